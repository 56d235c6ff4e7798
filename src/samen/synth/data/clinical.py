"""Chronic diseases, their prevalence by age and sex, and the care that goes with them.

Prevalence is the annual prevalence known to the GP (jaarprevalentie, Nivel Zorgregistraties eerste
lijn, as published on VZinfo.nl / volksgezondheidenzorg.info), per 1,000, for the five-year age groups
of :mod:`samen.synth.data.population`:

- diabetes mellitus: the VZinfo table of 2017 (all types) by age and sex; type 2 is taken as 90 % of it
  from age 20 (type 1 dominates below that, so type 2 is 0 there);
- heart failure (ICPC K77, 2021: 13.3 per 1,000 men, 14.2 women), COPD (R91/R95, 2021: 31.0 and 31.2)
  and dementia (P70, 2021: 5.2 and 8.1): VZinfo gives these totals (verified); the age profiles below
  are samen's own, not checked against a published age table (steep rise after 65; dementia doubling
  about every five years), scaled by hand so that on the 2024 population table they give the published
  totals within 5 % (tested). None of the four starts before 20: the medicines and doses here are
  adults', and what a GP registers as heart failure or COPD in a child is another disease.

Co-morbidity is a relative risk on one earlier disease, applied so that the marginal prevalence per age
and sex stays exactly the table (see :func:`samen.synth.care.conditional_risk`).
Medication: the first-line drugs of the NHG-Standaarden (ATC codes); lab tests: LOINC with UCUM units,
values from the Dutch reference ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# -- prevalence per 1,000 for ages 0-4 .. 90-94, 95+ (men, women) ------------------------------------

_DIABETES_ALL_TYPES_2017 = (
    (1.0, 1.1), (2.5, 1.7), (3.7, 3.7), (5.3, 5.9), (6.4, 7.1), (7.3, 8.2), (10.2, 9.6), (16.0, 15.2),
    (29.5, 23.1), (46.6, 35.8), (70.0, 54.1), (104.8, 78.5), (144.1, 109.6), (189.8, 140.7), (228.8, 182.6),
    (257.4, 218.8), (267.5, 254.8), (262.3, 251.1), (262.3, 251.1), (262.3, 251.1),
)
TYPE2_SHARE = 0.9
DIABETES_TYPE2 = tuple((0.0, 0.0) if group < 4 else (m * TYPE2_SHARE, w * TYPE2_SHARE)
                       for group, (m, w) in enumerate(_DIABETES_ALL_TYPES_2017))
HEART_FAILURE = (
    (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.3, 0.3), (0.3, 0.3), (0.4, 0.4), (0.5, 0.5),
    (0.8, 0.7), (1.6, 1.0), (3.4, 2.0), (6.5, 3.8), (11.5, 6.2), (22.0, 14.0), (38.0, 24.5), (65.0, 51.0),
    (108.0, 95.0), (165.0, 178.0), (205.0, 230.0), (230.0, 250.0),
)
COPD = (
    (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (1.2, 1.2), (1.5, 1.5), (2.0, 2.0), (3.5, 4.0),
    (6.0, 8.0), (11.0, 14.0), (20.0, 24.0), (38.0, 42.0), (62.0, 58.0), (80.0, 80.0), (100.0, 95.0),
    (125.0, 105.0), (140.0, 105.0), (130.0, 90.0), (115.0, 75.0), (100.0, 60.0),
)
DEMENTIA = (
    (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0), (0.0, 0.0),
    (0.05, 0.05), (0.1, 0.1), (0.2, 0.2), (0.5, 0.5), (1.2, 1.0), (4.0, 3.0), (10.5, 9.5), (26.0, 25.0),
    (62.0, 66.0), (102.0, 130.0), (152.0, 200.0), (180.0, 250.0),
)
# Published totals the tables are calibrated to: per 1,000 (men, women), VZinfo / Nivel, 2021.
PUBLISHED_PER_1000 = {
    "heart-failure": (13.3, 14.2),
    "copd": (31.0, 31.2),
    "dementia": (5.2, 8.1),
    "diabetes-type-2": (70.3 * TYPE2_SHARE, 61.1 * TYPE2_SHARE),  # VZinfo 2020, all types x 0.9
}


@dataclass(frozen=True)
class Medicine:
    atc: str
    atc_name: str  # WHO ATC name
    product: str  # Dutch product description as on a label
    dose: str  # dosage instruction (Dutch)
    per_day: float  # units a day, for dispense quantities
    unit: str  # UCUM unit of one unit
    prescriber: str  # "gp" or a hospital specialty key (see SPECIALTIES)


@dataclass(frozen=True)
class LabTest:
    loinc: str
    display: str
    dutch: str
    unit: str  # UCUM
    normal: tuple[float, float]  # reference range
    decimals: int


@dataclass(frozen=True)
class Disease:
    key: str
    snomed: str
    display: str  # SNOMED preferred term
    dutch: str
    icpc: str  # ICPC-1-NL (NHG) code, as the GP records it
    icpc_display: str
    prevalence: tuple[tuple[float, float], ...] = ()
    risk_factor: str | None = None  # key of an earlier disease that raises the risk
    relative_risk: float = 1.0
    medicines: tuple[tuple[Medicine, float], ...] = ()  # (medicine, share of patients on it)
    labs: tuple[str, ...] = ()  # LabTest keys the GP orders
    specialty: str | None = None  # hospital specialty that co-treats it
    onset_age: tuple[int, int] = (40, 90)


SNOMED_DIAGNOSIS = ("282291009", "Diagnose")  # zib ProblemType: diagnosis

LAB_TESTS: dict[str, LabTest] = {
    "hba1c": LabTest("59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol", "HbA1c",
                     "mmol/mol", (20.0, 42.0), 0),
    "glucose": LabTest("14771-0", "Fasting glucose [Moles/volume] in Serum or Plasma", "Glucose nuchter",
                       "mmol/L", (4.0, 6.1), 1),
    "ntprobnp": LabTest("33762-6", "Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma",
                        "NT-proBNP", "ng/L", (10.0, 125.0), 0),
    "creatinine": LabTest("14682-9", "Creatinine [Moles/volume] in Serum or Plasma", "Kreatinine",
                          "umol/L", (50.0, 110.0), 0),
    "egfr": LabTest("62238-1", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, "
                    "Plasma or Blood by Creatinine-based formula (CKD-EPI)", "eGFR (CKD-EPI)",
                    "mL/min/{1.73_m2}", (60.0, 120.0), 0),
    "potassium": LabTest("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "Kalium", "mmol/L",
                         (3.5, 5.0), 1),
    "ldl": LabTest("22748-8", "Cholesterol in LDL [Moles/volume] in Serum or Plasma", "LDL-cholesterol",
                   "mmol/L", (1.0, 3.0), 1),
}

_METFORMIN = Medicine("A10BA02", "metformin", "Metformine 500 mg tablet", "2 maal daags 1 tablet", 2, "1", "gp")
_GLICLAZIDE = Medicine("A10BB09", "gliclazide", "Gliclazide 80 mg tablet", "1 maal daags 1 tablet", 1, "1", "gp")
_INSULIN = Medicine("A10AE04", "insulin glargine", "Insuline glargine 100 E/ml injectievloeistof",
                    "1 maal daags 20 eenheden subcutaan", 20, "[iU]", "internal")
_ATORVASTATIN = Medicine("C10AA05", "atorvastatin", "Atorvastatine 20 mg tablet", "1 maal daags 1 tablet",
                         1, "1", "gp")
_FUROSEMIDE = Medicine("C03CA01", "furosemide", "Furosemide 40 mg tablet", "1 maal daags 1 tablet", 1, "1",
                       "cardiology")
_BISOPROLOL = Medicine("C07AB07", "bisoprolol", "Bisoprolol 5 mg tablet", "1 maal daags 1 tablet", 1, "1",
                       "cardiology")
_ENALAPRIL = Medicine("C09AA02", "enalapril", "Enalapril 10 mg tablet", "2 maal daags 1 tablet", 2, "1",
                      "cardiology")
_SPIRONOLACTONE = Medicine("C03DA01", "spironolactone", "Spironolacton 25 mg tablet", "1 maal daags 1 tablet",
                           1, "1", "cardiology")
_DAPAGLIFLOZIN = Medicine("A10BK01", "dapagliflozin", "Dapagliflozine 10 mg tablet", "1 maal daags 1 tablet",
                          1, "1", "cardiology")
_TIOTROPIUM = Medicine("R03BB04", "tiotropium bromide", "Tiotropium 2,5 microgram/dosis inhalatievloeistof",
                       "1 maal daags 2 inhalaties", 2, "1", "gp")
_SALBUTAMOL = Medicine("R03AC02", "salbutamol", "Salbutamol 100 microgram/dosis aerosol",
                       "zo nodig 1-2 inhalaties, maximaal 8 per dag", 2, "1", "gp")
_BUDESONIDE_FORMOTEROL = Medicine("R03AK07", "formoterol and budesonide",
                                  "Budesonide/formoterol 200/6 microgram/dosis inhalatiepoeder",
                                  "2 maal daags 1 inhalatie", 2, "1", "pulmonology")
_RIVASTIGMINE = Medicine("N06DA03", "rivastigmine", "Rivastigmine 9,5 mg/24 uur pleister",
                         "1 maal daags 1 pleister", 1, "1", "geriatrics")
_AMLODIPINE = Medicine("C08CA01", "amlodipine", "Amlodipine 5 mg tablet", "1 maal daags 1 tablet", 1, "1", "gp")
_HYDROCHLOROTHIAZIDE = Medicine("C03AA03", "hydrochlorothiazide", "Hydrochloorthiazide 12,5 mg tablet",
                                "1 maal daags 1 tablet", 1, "1", "gp")
_APIXABAN = Medicine("B01AF02", "apixaban", "Apixaban 5 mg tablet", "2 maal daags 1 tablet", 2, "1",
                     "cardiology")
_METOPROLOL = Medicine("C07AB02", "metoprolol", "Metoprolol 100 mg tablet met gereguleerde afgifte",
                       "1 maal daags 1 tablet", 1, "1", "gp")
_SERTRALINE = Medicine("N06AB06", "sertraline", "Sertraline 50 mg tablet", "1 maal daags 1 tablet", 1, "1",
                       "psychiatry")

DISEASES: tuple[Disease, ...] = (
    Disease("diabetes-type-2", "44054006", "Diabetes mellitus type 2", "Diabetes mellitus type 2", "T90.02",
            "Diabetes mellitus type 2", DIABETES_TYPE2,
            medicines=((_METFORMIN, 0.85), (_GLICLAZIDE, 0.3), (_INSULIN, 0.15), (_ATORVASTATIN, 0.7)),
            labs=("hba1c", "glucose", "creatinine", "egfr", "ldl"), specialty="internal", onset_age=(30, 85)),
    Disease("heart-failure", "84114007", "Heart failure", "Hartfalen", "K77", "Decompensatio cordis",
            HEART_FAILURE, risk_factor="diabetes-type-2", relative_risk=2.0,
            medicines=((_FUROSEMIDE, 0.75), (_BISOPROLOL, 0.7), (_ENALAPRIL, 0.6), (_SPIRONOLACTONE, 0.35),
                       (_DAPAGLIFLOZIN, 0.25)),
            labs=("ntprobnp", "creatinine", "egfr", "potassium"), specialty="cardiology", onset_age=(50, 95)),
    Disease("copd", "13645005", "Chronic obstructive lung disease", "COPD", "R95", "Emfyseem/COPD", COPD,
            medicines=((_TIOTROPIUM, 0.7), (_SALBUTAMOL, 0.8), (_BUDESONIDE_FORMOTEROL, 0.3)),
            specialty="pulmonology", onset_age=(40, 90)),
    Disease("dementia", "52448006", "Dementia", "Dementie", "P70", "Dementie", DEMENTIA,
            risk_factor="diabetes-type-2", relative_risk=1.5, medicines=((_RIVASTIGMINE, 0.2),),
            specialty="geriatrics", onset_age=(60, 100)),
)
# Co-morbidity that follows a chronic disease: (disease key, share of its patients).
HYPERTENSION = Disease("hypertension", "38341003", "Hypertensive disorder, systemic arterial", "Hypertensie",
                       "K86", "Hypertensie zonder orgaanbeschadiging",
                       medicines=((_AMLODIPINE, 0.6), (_HYDROCHLOROTHIAZIDE, 0.4)), onset_age=(40, 85))
ATRIAL_FIBRILLATION = Disease("atrial-fibrillation", "49436004", "Atrial fibrillation", "Atriumfibrilleren", "K78",
                              "Atriumfibrilleren/-flutter", medicines=((_APIXABAN, 0.85), (_METOPROLOL, 0.5)),
                              specialty="cardiology", onset_age=(55, 95))
DEPRESSION = Disease("depression", "35489007", "Depressive disorder", "Depressie", "P76", "Depressie",
                     medicines=((_SERTRALINE, 0.7),), specialty="psychiatry", onset_age=(18, 75))
COMORBIDITY: tuple[tuple[Disease, str, float], ...] = (
    (HYPERTENSION, "diabetes-type-2", 0.6),
    (HYPERTENSION, "heart-failure", 0.55),
    (ATRIAL_FIBRILLATION, "heart-failure", 0.4),
)

# Allergies the pharmacy records: (SNOMED code, display, Dutch, zib category code, share of people).
ALLERGIES = (
    ("91936005", "Allergy to penicillin", "Penicilline-allergie", "419511003", 0.05),
    ("300916003", "Latex allergy", "Latexallergie", "426232007", 0.01),
    ("91935009", "Allergy to peanut", "Pinda-allergie", "418471000", 0.01),
    ("232350006", "House dust mite allergy", "Huisstofmijtallergie", "426232007", 0.03),
)


@dataclass(frozen=True)
class Specialty:
    """A professional role: its UZI role code (PractitionerRole.specialty) and AGB specialism, if any."""

    key: str
    uzi_role: str  # UZI role code (http://fhir.nl/fhir/NamingSystem/uzi-rolcode)
    role_display: str
    dutch: str  # the service, as a department or practice would name it
    agb_kind: str  # AGB zorgverlenersoort of the professional: the first two digits of a personal AGB code
    agb: str = ""  # AGB specialism code (COD016-VEKT, urn:oid:2.16.840.1.113883.2.4.6.7)
    agb_display: str = ""
    procedures: tuple[tuple[str, str, str], ...] = field(default=())  # (SNOMED, display, Dutch)


SPECIALTIES: dict[str, Specialty] = {s.key: s for s in (
    Specialty("gp", "01.015", "Huisarts", "huisartsenzorg", "01", "0100", "Huisartsen, niet nader gespecificeerd"),
    Specialty("cardiology", "01.010", "Cardioloog", "cardiologie", "03", "0320", "Medisch specialisten, cardiologie",
              (("40701008", "Echocardiography", "Echocardiografie"),
               ("29303009", "Electrocardiographic procedure", "Elektrocardiografie"))),
    Specialty("pulmonology", "01.023", "Longarts", "longziekten", "03", "0322",
              "Medisch specialisten, longziekten en tuberculose",
              (("127783003", "Spirometry", "Spirometrie"), ("399208008", "Plain chest X-ray", "Thoraxfoto"))),
    Specialty("internal", "01.016", "Internist", "interne geneeskunde", "03", "0313",
              "Medisch specialisten, inwendige geneeskunde"),
    Specialty("geriatrics", "01.022", "Klinisch geriater", "geriatrie", "03", "0335",
              "Medisch specialisten, klinische geriatrie"),
    Specialty("ophthalmology", "01.031", "Oogarts", "oogheelkunde", "03", "0301", "Medisch specialisten, oogheelkunde",
              (("110473004", "Cataract extraction", "Staaroperatie"),)),
    Specialty("orthopedics", "01.032", "Orthopedisch chirurg", "orthopedie", "03", "0305",
              "Medisch specialisten, orthopedie",
              (("52734007", "Total replacement of hip", "Totale heupprothese"),
               ("609588000", "Total knee replacement", "Totale knieprothese"))),
    Specialty("psychiatry", "01.035", "Psychiater", "psychiatrie", "03", "0329", "Medisch specialisten, psychiatrie"),
    Specialty("psychology", "25.000", "Gezondheidszorgpsycholoog", "psychologische behandeling", "94"),
    Specialty("elderly-care", "01.047", "Specialist ouderengeneeskunde", "verpleeghuiszorg", "84", "8418",
              "Overige artsen, specialist ouderengeneeskunde"),
    Specialty("pharmacy", "17.075", "Openbaar apotheker", "farmaceutische zorg", "02"),
    Specialty("practice-nursing", "30.000", "Verpleegkundige", "praktijkondersteuning", "91"),  # POH at the GP
    Specialty("nursing", "30.000", "Verpleegkundige", "verpleging", "91"),  # on the ward
    Specialty("district-nursing", "30.000", "Verpleegkundige", "wijkverpleging", "91"),  # at home
)}
# Planned hospital care of the general population, by age: (specialty, procedure index, yearly chance from age).
ELECTIVE_CARE = (
    ("ophthalmology", 0, 0.012, 60),
    ("orthopedics", 0, 0.004, 55),
    ("orthopedics", 1, 0.004, 55),
)

# Vaccinations the GP gives in national programmes, each autumn (October-November):
# - influenza (Nationaal Programma Grieppreventie): from the year one turns 60, and earlier with a
#   medical indication; of the diseases here: diabetes, heart failure, atrial fibrillation, COPD;
# - pneumococcal (Nationaal Programma Pneumokokkenvaccinatie Volwassenen, PPV23): the birth years
#   invited that year. snpg.nl: 1953-1956 in 2022 and 1961-1964 in 2024; the programme invites everyone
#   from 60 to 79 once in five years without catching up, so 2023 invited 1957-1960 (inferred).
INFLUENZA_AGE = 60
INFLUENZA_INDICATIONS = ("diabetes-type-2", "heart-failure", "atrial-fibrillation", "copd")
INFLUENZA_SEASONS = (2023, 2024)
PNEUMOCOCCAL_INVITED = ((2023, range(1957, 1961)), (2024, range(1961, 1965)))
