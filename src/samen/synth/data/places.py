"""Dutch places: province, municipality, place, inhabitants, centre and their 4-digit postcodes (raw data).

Public facts, compiled for samen: inhabitants from CBS StatLine 03759ned / 70072ned (1 January 2024,
thousands, rounded; for a merged municipality the main places), the centre (WGS84) of the place, and
the PC4 postcodes of the place. Place names are the woonplaats names of the BAG ('s-Gravenhage,
Hoogvliet Rotterdam). Every postcode listed exists and belongs to that place and province: each was
checked against the shared PC4 table (``shared/data/nl/zipcodes.csv``), which a test does again; codes
of a place's PostNL range that the table does not give to the place are left out. The larger places
of every province are listed, not every municipality. Regions group municipalities (a province, or a
care region such as Rotterdam-Rijnmond, the ROAZ/GGD region around Rotterdam).
"""

from __future__ import annotations

# province | municipality | place | inhabitants (thousands) | lat | lon | PC4 codes and ranges
# (a line ending in a comma goes on on the next line)
PLACE_TABLE = """
Groningen|Groningen|Groningen|241|53.219|6.567|9711-9718,9721-9728,9731-9738,9741-9747
Groningen|Midden-Groningen|Hoogezand|26|53.161|6.761|9601-9603
Groningen|Oldambt|Winschoten|18|53.144|7.035|9671-9675
Groningen|Veendam|Veendam|28|53.106|6.876|9641-9642,9644-9646
Friesland|Leeuwarden|Leeuwarden|125|53.201|5.799|8911-8919,8921-8927,8931-8939
Friesland|Súdwest-Fryslân|Sneek|34|53.032|5.660|8601-8608
Friesland|Smallingerland|Drachten|45|53.112|6.099|9201-9206
Friesland|Heerenveen|Heerenveen|31|52.960|5.920|8441-8448
Drenthe|Assen|Assen|69|52.993|6.562|9401-9408
Drenthe|Emmen|Emmen|56|52.779|6.907|7811-7815,7821-7825
Drenthe|Hoogeveen|Hoogeveen|40|52.723|6.476|7901-7909
Drenthe|Meppel|Meppel|35|52.696|6.194|7941-7944
Overijssel|Enschede|Enschede|161|52.221|6.894|7511-7514,7521-7525,7531-7536,7541-7548
Overijssel|Zwolle|Zwolle|132|52.512|6.094|8011-8017,8019,8021-8026,8028,8031-8035,8041-8045
Overijssel|Deventer|Deventer|103|52.255|6.163|7411-7419,7421-7428
Overijssel|Hengelo|Hengelo|82|52.266|6.793|7551-7559
Overijssel|Almelo|Almelo|74|52.357|6.662|7601-7610
Overijssel|Kampen|Kampen|40|52.555|5.911|8261-8267
Flevoland|Almere|Almere|222|52.370|5.214|1312-1319,1321-1329,1331-1336,1338-1339,1341,1343,1349,1351-1359,1361-1363
Flevoland|Lelystad|Lelystad|83|52.518|5.471|8211-8212,8218-8219,8221-8226,8231-8233,8239,8241-8245
Flevoland|Dronten|Dronten|43|52.525|5.718|8251-8254
Flevoland|Noordoostpolder|Emmeloord|27|52.711|5.750|8301-8305
Gelderland|Nijmegen|Nijmegen|182|51.842|5.853|6511-6512,6515,6521-6525,6531-6538,6541-6546
Gelderland|Arnhem|Arnhem|166|51.985|5.899|6811-6816,6821-6828,6831-6836,6841-6846
Gelderland|Apeldoorn|Apeldoorn|166|52.211|5.969|7311-7317,7321-7329,7331-7336
Gelderland|Ede|Ede|80|52.040|5.666|6711-6718
Gelderland|Doetinchem|Doetinchem|58|51.965|6.289|7001-7009
Gelderland|Zutphen|Zutphen|48|52.138|6.201|7201-7207
Gelderland|Harderwijk|Harderwijk|50|52.342|5.620|3841-3848
Gelderland|Tiel|Tiel|42|51.887|5.430|4001-4007
Gelderland|Wageningen|Wageningen|40|51.969|5.665|6701-6709
Utrecht|Utrecht|Utrecht|374|52.091|5.122|3511-3515,3521-3528,3531-3534,3541-3546,3551-3555,3561-3566,3571-3573,
    3581-3585
Utrecht|Amersfoort|Amersfoort|160|52.156|5.387|3811-3819,3821-3826
Utrecht|Nieuwegein|Nieuwegein|65|52.030|5.090|3431-3439
Utrecht|Veenendaal|Veenendaal|69|52.028|5.556|3901-3907
Utrecht|Zeist|Zeist|66|52.089|5.232|3701-3709
Utrecht|Houten|Houten|51|52.028|5.168|3991-3995
Utrecht|IJsselstein|IJsselstein|35|52.020|5.043|3401-3404
Noord-Holland|Amsterdam|Amsterdam|931|52.373|4.893|1011-1019,1021-1028,1031-1037,1041-1047,1051-1069,1071-1079,
    1081-1083,1086-1087,1091-1098,1101-1109
Noord-Holland|Haarlem|Haarlem|163|52.381|4.637|2011-2015,2019,2021-2026,2031-2037
Noord-Holland|Zaanstad|Zaandam|79|52.439|4.826|1501-1509
Noord-Holland|Haarlemmermeer|Hoofddorp|78|52.303|4.689|2131-2135
Noord-Holland|Alkmaar|Alkmaar|110|52.632|4.748|1811-1817,1821-1827
Noord-Holland|Amstelveen|Amstelveen|92|52.303|4.862|1181-1189
Noord-Holland|Hilversum|Hilversum|92|52.223|5.176|1211-1218,1221-1223
Noord-Holland|Purmerend|Purmerend|93|52.505|4.959|1441-1448
Noord-Holland|Hoorn|Hoorn|74|52.642|5.060|1621-1625,1627-1628
Noord-Holland|Den Helder|Den Helder|56|52.953|4.760|1781-1786
Noord-Holland|Velsen|IJmuiden|31|52.459|4.619|1971-1976
Zuid-Holland|Rotterdam|Rotterdam|664|51.922|4.479|3011-3016,3021-3029,3031-3039,3041-3047,3051-3056,3059,3061-3069,
    3071-3079,3081-3089
Zuid-Holland|Rotterdam|Hoogvliet Rotterdam|35|51.862|4.355|3191-3194
Zuid-Holland|'s-Gravenhage|'s-Gravenhage|562|52.078|4.288|2491-2493,2495-2498,2511-2518,2521-2526,2531-2533,
    2541-2548,2551-2555,2561-2566,2571-2574,2581-2587,2591-2597
Zuid-Holland|Leiden|Leiden|127|52.160|4.497|2311-2318,2321-2324,2331-2334
Zuid-Holland|Dordrecht|Dordrecht|121|51.813|4.690|3311-3319,3328-3329
Zuid-Holland|Zoetermeer|Zoetermeer|127|52.057|4.493|2711-2713,2715-2719,2721-2729
Zuid-Holland|Delft|Delft|105|52.012|4.357|2611-2614,2616,2622-2629
Zuid-Holland|Alphen aan den Rijn|Alphen aan den Rijn|115|52.129|4.656|2401-2409
Zuid-Holland|Westland|Naaldwijk|33|51.994|4.209|2671-2673
Zuid-Holland|Gouda|Gouda|75|52.011|4.711|2801-2809
Zuid-Holland|Rijswijk|Rijswijk|57|52.036|4.325|2281-2289
Zuid-Holland|Katwijk|Katwijk|67|52.200|4.414|2221-2225
Zuid-Holland|Gorinchem|Gorinchem|38|51.835|4.974|4201-4208
Zuid-Holland|Schiedam|Schiedam|80|51.919|4.389|3111-3119,3121-3125
Zuid-Holland|Vlaardingen|Vlaardingen|75|51.912|4.341|3131-3138
Zuid-Holland|Maassluis|Maassluis|34|51.923|4.250|3141-3147
Zuid-Holland|Capelle aan den IJssel|Capelle aan den IJssel|67|51.929|4.578|2902-2909
Zuid-Holland|Krimpen aan den IJssel|Krimpen aan den IJssel|29|51.917|4.595|2921-2926
Zuid-Holland|Barendrecht|Barendrecht|50|51.856|4.535|2991-2994
Zuid-Holland|Ridderkerk|Ridderkerk|47|51.872|4.602|2981-2988
Zuid-Holland|Albrandswaard|Rhoon|14|51.857|4.421|3161-3162
Zuid-Holland|Lansingerland|Berkel en Rodenrijs|31|51.993|4.476|2651-2652
Zuid-Holland|Nissewaard|Spijkenisse|73|51.845|4.329|3201-3208
Zuid-Holland|Voorne aan Zee|Hellevoetsluis|40|51.833|4.135|3221-3225
Zuid-Holland|Voorne aan Zee|Brielle|12|51.902|4.162|3231-3232
Zuid-Holland|Hoeksche Waard|Oud-Beijerland|25|51.824|4.412|3261-3263
Zuid-Holland|Goeree-Overflakkee|Middelharnis|19|51.757|4.167|3241
Zeeland|Middelburg|Middelburg|50|51.499|3.610|4331-4338
Zeeland|Vlissingen|Vlissingen|45|51.443|3.573|4381-4387
Zeeland|Goes|Goes|39|51.504|3.889|4461-4465
Zeeland|Terneuzen|Terneuzen|25|51.336|3.828|4531-4533,4535-4538
Noord-Brabant|Eindhoven|Eindhoven|243|51.441|5.478|5611-5617,5621-5629,5631-5633,5641-5647,5651-5658
Noord-Brabant|Tilburg|Tilburg|227|51.556|5.091|5011-5015,5017-5018,5021-5022,5025-5026,5032,5035-5038,5041-5049
Noord-Brabant|Breda|Breda|186|51.589|4.776|4811-4819,4822-4827,4834-4839
Noord-Brabant|'s-Hertogenbosch|'s-Hertogenbosch|160|51.697|5.304|5211-5213,5215-5216,5221-5224,5231-5237
Noord-Brabant|Helmond|Helmond|94|51.482|5.661|5701-5709
Noord-Brabant|Oss|Oss|63|51.765|5.518|5341-5349
Noord-Brabant|Roosendaal|Roosendaal|78|51.531|4.465|4701-4708
Noord-Brabant|Bergen op Zoom|Bergen op Zoom|69|51.495|4.292|4611-4617,4621-4625
Noord-Brabant|Meierijstad|Veghel|32|51.617|5.549|5461-5467
Noord-Brabant|Waalwijk|Waalwijk|50|51.683|5.070|5141-5146
Noord-Brabant|Oosterhout|Oosterhout|57|51.645|4.860|4901-4908
Noord-Brabant|Veldhoven|Veldhoven|46|51.420|5.404|5501-5509
Limburg|Maastricht|Maastricht|123|50.851|5.691|6211-6219,6221-6229
Limburg|Venlo|Venlo|102|51.370|6.172|5911-5916,5921-5928
Limburg|Sittard-Geleen|Sittard|37|50.999|5.866|6131-6137
Limburg|Sittard-Geleen|Geleen|32|50.967|5.829|6161-6167
Limburg|Heerlen|Heerlen|87|50.888|5.980|6411-6419
Limburg|Roermond|Roermond|59|51.194|5.987|6041-6045
Limburg|Weert|Weert|51|51.251|5.707|6001-6006
Limburg|Kerkrade|Kerkrade|45|50.866|6.070|6461-6469
"""

PROVINCES = ("Groningen", "Friesland", "Drenthe", "Overijssel", "Flevoland", "Gelderland", "Utrecht",
             "Noord-Holland", "Zuid-Holland", "Zeeland", "Noord-Brabant", "Limburg")
# Care regions made of municipalities (besides the provinces and the whole country).
REGION_MUNICIPALITIES: dict[str, tuple[str, ...]] = {
    "Rotterdam-Rijnmond": ("Rotterdam", "Schiedam", "Vlaardingen", "Maassluis", "Capelle aan den IJssel",
                           "Krimpen aan den IJssel", "Barendrecht", "Ridderkerk", "Albrandswaard", "Lansingerland",
                           "Nissewaard", "Voorne aan Zee", "Hoeksche Waard", "Goeree-Overflakkee"),
    "Haaglanden": ("'s-Gravenhage", "Delft", "Zoetermeer", "Westland", "Rijswijk"),
    "Amsterdam-Amstelland": ("Amsterdam", "Amstelveen"),
}
NATIONAL = "Nederland"
