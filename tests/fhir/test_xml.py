"""FHIR XML <-> FHIR JSON: each rule of http://hl7.org/fhir/R4/xml.html, errors, and lossless round trips."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from lxml import etree

from samen.fhir.model import Model
from samen.fhir.xml import (
    FHIR_NS,
    XHTML_NS,
    XmlFormatError,
    dumps_exact,
    loads_exact,
    parse_resource,
    serialize_resource,
)

NICTIZ = Path("/work/shared/fhir/nictiz-r4-zib2020")
NS = f'xmlns="{FHIR_NS}"'


def xml(body: str, root: str = "Patient") -> str:
    return f"<{root} {NS}>{body}</{root}>"


def read(model: Model, body: str, root: str = "Patient", **kwargs: bool) -> dict:
    return parse_resource(xml(body, root), model, **kwargs)


# -- XML -> JSON: primitives --------------------------------------------------------------------


def test_primitive_values_get_their_json_type(model: Model) -> None:
    patient = read(model, '<active value="true"/><gender value="female"/><birthDate value="1950-04-01"/>'
                          '<multipleBirthInteger value="2"/>')
    assert patient == {"resourceType": "Patient", "active": True, "gender": "female", "birthDate": "1950-04-01",
                       "multipleBirthInteger": 2}
    questionnaire = read(model, '<item><linkId value="1"/><type value="string"/><maxLength value="-3"/></item>',
                         "Questionnaire")
    assert questionnaire["item"][0]["maxLength"] == -3
    sampled = read(model, '<valueSampledData><origin><value value="0"/></origin><period value="10.0"/>'
                          '<dimensions value="3"/><data value="1 2 3"/></valueSampledData>', "Observation")
    assert sampled["valueSampledData"] == {"origin": {"value": 0}, "period": 10.0, "dimensions": 3, "data": "1 2 3"}


def test_decimals_as_orjson_reads_them_or_exact(model: Model) -> None:
    body = '<valueQuantity><value value="1.50"/><unit value="kg"/></valueQuantity>'
    assert read(model, body, "Observation")["valueQuantity"]["value"] == orjson.loads("1.50")
    assert type(read(model, '<valueQuantity><value value="72"/></valueQuantity>', "Observation")
                ["valueQuantity"]["value"]) is int
    assert read(model, '<valueQuantity><value value="1e3"/></valueQuantity>', "Observation")[
        "valueQuantity"]["value"] == 1000.0
    exact = read(model, body, "Observation", exact_decimals=True)["valueQuantity"]["value"]
    assert isinstance(exact, Decimal) and str(exact) == "1.50"


def test_strings_stay_exact(model: Model) -> None:
    patient = read(model, '<name><text value=" two&#10;lines &amp; &lt;more&gt; &quot;q&quot;&#9;&#13;"/></name>')
    assert patient["name"][0]["text"] == ' two\nlines & <more> "q"\t\r'
    assert parse_resource(serialize_resource(patient, model), model) == patient


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('<active value="yes"/>', "'yes' is not a boolean"),
        ('<multipleBirthInteger value="2.5"/>', "'2.5' is not an integer"),
        ('<multipleBirthInteger value="007"/>', "'007' is not an integer"),
        ('<multipleBirthInteger value="+7"/>', "'\\+7' is not an integer"),
        ('<photo><size value="-0"/></photo>', "'-0' is not an unsignedInt"),
        ('<active value=""/>', "empty value"),
        ("<active/>", "no value, id or extension"),
        ('<active value="true" colour="red"/>', "Unexpected attribute 'colour'"),
        ('<active value="true"><given value="x"/></active>', "only hold extensions"),
        ('<active value="true"/><active value="false"/>', "'active' does not repeat"),
        ("<active>true</active>", "Unexpected text 'true'"),
    ],
)
def test_bad_primitives_are_refused_with_their_line(model: Model, body: str, message: str) -> None:
    with pytest.raises(XmlFormatError, match=message) as caught:
        parse_resource(f"<Patient {NS}>\n\n{body}\n</Patient>", model)
    assert caught.value.line == 3 and "(line 3)" in str(caught.value)


def test_bad_decimal_is_refused(model: Model) -> None:
    with pytest.raises(XmlFormatError, match="'1,5' is not a decimal"):
        read(model, '<valueQuantity><value value="1,5"/></valueQuantity>', "Observation")


@pytest.mark.parametrize("exact_decimals", [False, True])
def test_a_decimal_beyond_what_json_numbers_hold_is_refused_as_in_json(model: Model, exact_decimals: bool) -> None:
    for text in ("1e400", "-1e400"):
        with pytest.raises(XmlFormatError, match=f"'{text}' is outside the range of a decimal"):
            read(model, f'<valueQuantity><value value="{text}"/></valueQuantity>', "Observation",
                 exact_decimals=exact_decimals)


def test_a_positive_int_may_have_a_plus_sign(model: Model) -> None:
    sampled = read(model, '<valueSampledData><origin><value value="0"/></origin><period value="1"/>'
                          '<dimensions value="+3"/></valueSampledData>', "Observation")
    assert sampled["valueSampledData"]["dimensions"] == 3


# -- XML -> JSON: arrays, ids and extensions ----------------------------------------------------


def test_repeating_elements_are_lists_even_with_one_item(model: Model) -> None:
    patient = read(model, '<name><given value="Anna"/></name><name><family value="Jansen"/></name>')
    assert patient["name"] == [{"given": ["Anna"]}, {"family": "Jansen"}]


def test_primitive_array_items_with_only_id_or_extensions_align_with_null(model: Model) -> None:
    ext = '<extension url="http://example.org/x"><valueCode value="c"/></extension>'
    patient = read(model, f'<name><given value="A"/><given id="g2">{ext}</given><given value="C"/>'
                          f'<given value="D" id="g4"/></name>')
    assert patient["name"][0] == {
        "given": ["A", None, "C", "D"],
        "_given": [None, {"id": "g2", "extension": [{"url": "http://example.org/x", "valueCode": "c"}]}, None,
                   {"id": "g4"}],
    }


def test_primitive_array_with_no_values_has_only_the_underscore_array(model: Model) -> None:
    patient = read(model, '<name><given id="a"/><given id="b"/></name>')
    assert patient["name"][0] == {"_given": [{"id": "a"}, {"id": "b"}]}


def test_single_primitive_with_id_and_extension(model: Model) -> None:
    ext = '<extension url="http://example.org/precision"><valueString value="day"/></extension>'
    patient = read(model, f'<birthDate id="bd" value="1950-04-01">{ext}</birthDate><active id="only"/>')
    assert patient["birthDate"] == "1950-04-01"
    assert patient["_birthDate"] == {"id": "bd", "extension": [{"url": "http://example.org/precision",
                                                                "valueString": "day"}]}
    assert patient["_active"] == {"id": "only"} and "active" not in patient


def test_element_id_is_an_attribute_but_resource_id_an_element(model: Model) -> None:
    patient = read(model, '<id value="p1"/><name id="n1"><family value="Jansen"/></name>'
                          '<contact id="c1"><gender value="male"/></contact>')
    assert patient == {"resourceType": "Patient", "id": "p1", "name": [{"id": "n1", "family": "Jansen"}],
                       "contact": [{"id": "c1", "gender": "male"}]}
    with pytest.raises(XmlFormatError, match="Unexpected attribute 'id' on <Patient>"):
        parse_resource(f'<Patient {NS} id="p1"/>', model)


def test_extensions_on_resources_and_complex_types_with_url_attribute(model: Model) -> None:
    patient = read(model, """
        <extension url="http://example.org/nested">
          <extension url="part"><valueQuantity><value value="3"/><unit value="kg"/></valueQuantity></extension>
        </extension>
        <modifierExtension url="http://example.org/mod"><valueBoolean value="false"/></modifierExtension>
        <name><extension url="http://example.org/on-name"><valueCodeableConcept><text value="t"/>
        </valueCodeableConcept></extension><family value="X"/></name>""")
    assert patient["extension"] == [{"url": "http://example.org/nested", "extension": [
        {"url": "part", "valueQuantity": {"value": 3, "unit": "kg"}}]}]
    assert patient["modifierExtension"] == [{"url": "http://example.org/mod", "valueBoolean": False}]
    assert patient["name"][0]["extension"] == [{"url": "http://example.org/on-name",
                                                "valueCodeableConcept": {"text": "t"}}]


def test_choice_types(model: Model) -> None:
    observation = read(model, '<effectivePeriod><start value="2024"/></effectivePeriod>'
                              '<valueQuantity><value value="80"/></valueQuantity>', "Observation")
    assert observation["effectivePeriod"] == {"start": "2024"}
    assert observation["valueQuantity"] == {"value": 80}
    with pytest.raises(XmlFormatError, match="Unknown element 'valueFoo' in Observation"):
        read(model, '<valueFoo value="1"/>', "Observation")
    with pytest.raises(XmlFormatError, match="Unknown element 'effective' in Observation"):
        read(model, '<effective value="2024"/>', "Observation")


# -- XML -> JSON: resources inside resources, contentReference, narrative ------------------------


def test_contained_bundle_entry_and_parameter_resources(model: Model) -> None:
    patient = read(model, f'<contained><Organization {NS}><id value="o1"/></Organization></contained>'
                          '<contained><Practitioner><id value="p1"/></Practitioner></contained>')
    assert patient["contained"] == [{"resourceType": "Organization", "id": "o1"},
                                    {"resourceType": "Practitioner", "id": "p1"}]
    bundle = read(model, '<type value="collection"/><entry><fullUrl value="urn:uuid:1"/><resource>'
                         '<Patient><active value="true"/></Patient></resource></entry>', "Bundle")
    assert bundle["entry"] == [{"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "active": True}}]
    parameters = read(model, '<parameter><name value="return"/><resource><Bundle><type value="batch"/>'
                             '<entry><resource><Basic><code><text value="b"/></code></Basic></resource></entry>'
                             '</Bundle></resource></parameter>', "Parameters")
    assert parameters["parameter"][0]["resource"] == {
        "resourceType": "Bundle", "type": "batch", "entry": [{"resource": {"resourceType": "Basic",
                                                                           "code": {"text": "b"}}}]}


def test_bundle_entry_outcome_is_an_operation_outcome_resource(model: Model) -> None:
    bundle = {"resourceType": "Bundle", "type": "batch-response", "entry": [{"response": {
        "status": "404", "outcome": {"resourceType": "OperationOutcome", "issue": [{"severity": "error",
                                                                                  "code": "not-found"}]}}}]}
    written = serialize_resource(bundle, model)
    assert b"<outcome><OperationOutcome><issue>" in written
    assert parse_resource(written, model) == bundle


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("<contained/>", "exactly one resource, found 0"),
        ("<contained><Patient/><Patient/></contained>", "exactly one resource, found 2"),
        ("<contained><Unicorn/></contained>", "Unknown resource type 'Unicorn'"),
        ('<contained xmlns:o="urn:other"><o:Patient/></contained>', "namespace http://hl7.org/fhir, found <Patient>"),
    ],
)
def test_bad_resource_containers(model: Model, body: str, message: str) -> None:
    with pytest.raises(XmlFormatError, match=message):
        read(model, body)


def test_content_reference_elements(model: Model) -> None:
    questionnaire = read(model, """
        <item><linkId value="1"/><type value="group"/>
          <item><linkId value="1.1"/><type value="group"/>
            <item><linkId value="1.1.1"/><type value="boolean"/><required value="true"/></item>
          </item>
        </item>""", "Questionnaire")
    assert questionnaire["item"][0]["item"][0]["item"] == [{"linkId": "1.1.1", "type": "boolean", "required": True}]
    value_set = read(model, '<compose><include><system value="http://loinc.org"/></include>'
                            '<exclude><system value="http://snomed.info/sct"/><concept><code value="1"/></concept>'
                            '</exclude></compose>', "ValueSet")
    assert value_set["compose"]["exclude"] == [{"system": "http://snomed.info/sct", "concept": [{"code": "1"}]}]


def test_narrative_div_becomes_a_string_with_its_namespace(model: Model) -> None:
    patient = read(model, f'<text><status value="generated"/><div xmlns="{XHTML_NS}"><p>Anna &amp; <b>Jan</b>'
                          '<!-- dropped --></p></div></text>')
    assert patient["text"] == {"status": "generated",
                               "div": f'<div xmlns="{XHTML_NS}"><p>Anna &amp; <b>Jan</b></p></div>'}
    with pytest.raises(XmlFormatError, match="<div> in Narrative must be in the XHTML namespace"):
        read(model, '<text><status value="generated"/><div><p>x</p></div></text>')


def test_comments_and_whitespace_are_ignored(model: Model) -> None:
    patient = parse_resource(f"""<?xml version="1.0" encoding="UTF-8"?>
        <!-- a comment before -->
        <Patient {NS} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                 xsi:schemaLocation="http://hl7.org/fhir patient.xsd">
          <!-- inside --><active value="true"/>
          <?some-instruction?>
          <name>
            <family value="Jansen"/> <!-- after -->
          </name>
        </Patient>""".encode(), model)
    assert patient == {"resourceType": "Patient", "active": True, "name": [{"family": "Jansen"}]}


def test_elements_out_of_order_are_read_and_written_back_in_order(model: Model) -> None:
    """A documented choice (docs/node.md, FHIR XML): order is not checked."""
    patient = read(model, '<gender value="male"/><name><given value="Jan"/><family value="Smit"/></name>'
                          '<active value="true"/>')
    assert patient == {"resourceType": "Patient", "gender": "male", "name": [{"given": ["Jan"], "family": "Smit"}],
                       "active": True}
    assert serialize_resource(patient, model) == xml(
        '<active value="true"/><name><family value="Smit"/><given value="Jan"/></name><gender value="male"/>'
    ).encode()


def test_a_byte_order_mark_and_a_declared_encoding_are_read(model: Model) -> None:
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?>' + xml('<name><family value="Müller"/></name>')
    assert parse_resource(latin.encode("latin-1"), model)["name"] == [{"family": "Müller"}]
    assert parse_resource(b"\xef\xbb\xbf" + xml('<active value="true"/>').encode(), model)["active"] is True


def test_html_entities_are_not_xml(model: Model) -> None:
    with pytest.raises(XmlFormatError, match="Entity 'nbsp' not defined"):
        read(model, f'<text><status value="generated"/><div xmlns="{XHTML_NS}">a&nbsp;b</div></text>')


def test_text_input_with_and_without_declaration(model: Model) -> None:
    assert parse_resource(xml('<gender value="männlich"/>'), model)["gender"] == "männlich"
    declared = '<?xml version="1.0" encoding="ISO-8859-1"?>' + xml('<gender value="männlich"/>')
    assert parse_resource(declared, model)["gender"] == "männlich"
    assert parse_resource(declared.encode("iso-8859-1"), model)["gender"] == "männlich"


# -- XML -> JSON: documents that are no FHIR XML -----------------------------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("", "empty"),
        ("  \n ", "Malformed XML: Start tag expected"),
        (f"<Patient {NS}><active value='true'></Patient>", "Malformed XML.*line 1"),
        (f"<Patient {NS}>\n<name>\n</Patient>", r"Malformed XML: Opening and ending tag mismatch: name line 2 "
                                                r"and Patient \(line 3, column \d+\)$"),
        ("<Patient><active value='true'/></Patient>", "found <Patient> in no namespace"),
        ('<Patient xmlns="http://hl7.org/fhir/other"/>', "found <Patient> in namespace http://hl7.org/fhir/other"),
        (f"<Unicorn {NS}/>", "Unknown resource type 'Unicorn'"),
        (f"<Patient {NS}><colour value='blue'/></Patient>", "Unknown element 'colour' in Patient"),
        (f"<Patient {NS}><name><nickname value='x'/></name></Patient>", "Unknown element 'nickname' in HumanName"),
        (f'<Patient {NS} xmlns:o="urn:o"><o:active value="true"/></Patient>', "in namespace urn:o, not the FHIR"),
        (f"<Patient {NS}>text</Patient>", "Unexpected text 'text'"),
        (f"<Patient {NS}><name>x<family value='y'/></name></Patient>", "Unexpected text 'x'"),
    ],
)
def test_no_fhir_xml_is_refused(model: Model, document: str, message: str) -> None:
    with pytest.raises(XmlFormatError, match=message):
        parse_resource(document, model)


def test_error_is_a_value_error(model: Model) -> None:
    with pytest.raises(ValueError):
        parse_resource(b"<not xml", model)


@pytest.mark.parametrize(
    "document",
    [
        f'<!DOCTYPE Patient [<!ENTITY x SYSTEM "file:///etc/passwd">]><Patient {NS}><gender value="&x;"/></Patient>',
        f'<!DOCTYPE Patient [<!ENTITY x "boom">]><Patient {NS}><gender value="&x;"/></Patient>',
        f'<!DOCTYPE Patient SYSTEM "http://127.0.0.1:9/fhir.dtd"><Patient {NS}/>',
        f'<!DOCTYPE Patient [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        f'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><Patient {NS}><gender value="&c;"/></Patient>',
        f'<!DOCTYPE Patient [<!ENTITY x SYSTEM "file:///etc/passwd">]><Patient {NS}><text><status value="x"/>'
        f'<div xmlns="{XHTML_NS}">&x;</div></text></Patient>',
    ],
)
def test_dtds_and_entities_are_refused(model: Model, document: str) -> None:
    with pytest.raises(XmlFormatError) as caught:
        parse_resource(document, model)
    assert "root:" not in str(caught.value) and "boom" not in str(caught.value)


# -- JSON -> XML -----------------------------------------------------------------------------


def canonical(document: bytes | str) -> list[str]:
    """The XML infoset as lines: element names, sorted attributes, order; comments and
    whitespace-only text dropped (text inside XHTML kept exactly), namespace prefixes resolved."""
    if isinstance(document, str):
        document = document.encode()
    parser = etree.XMLParser(remove_comments=True, remove_pis=True, resolve_entities=False, no_network=True)
    lines: list[str] = []

    def walk(element: etree._Element, depth: int) -> None:
        attributes = sorted((k, v) for k, v in element.attrib.items() if not k.startswith("{http://www.w3.org/2001/XMLSchema-instance}"))
        lines.append("  " * depth + f"{element.tag} {attributes}")
        xhtml = element.tag.startswith("{" + XHTML_NS)
        if element.text and (xhtml or not element.text.isspace()):
            lines.append("  " * depth + f" text {element.text!r}")
        for child in element:
            walk(child, depth + 1)
            if child.tail and (xhtml or not child.tail.isspace()):
                lines.append("  " * depth + f" tail {child.tail!r}")

    walk(etree.fromstring(document, parser), 0)
    return lines


def test_serialize_writes_definition_order_attributes_and_namespace(model: Model) -> None:
    patient = {"birthDate": "1950-04-01", "name": [{"given": ["Anna"], "family": "Jansen", "id": "n1"}],
               "id": "p1", "resourceType": "Patient", "active": True, "_birthDate": {"id": "bd"}}
    assert serialize_resource(patient, model) == (
        f'<Patient {NS}><id value="p1"/><active value="true"/><name id="n1"><family value="Jansen"/>'
        '<given value="Anna"/></name><birthDate id="bd" value="1950-04-01"/></Patient>'
    ).encode()


def test_serialize_primitive_arrays_extensions_and_choices(model: Model) -> None:
    ext = {"url": "http://example.org/x", "valueQuantity": {"value": 1.5, "unit": "kg"}}
    patient = {"resourceType": "Patient",
               "name": [{"given": ["A", None, "C"], "_given": [None, {"id": "g2", "extension": [ext]}, None]}],
               "extension": [ext], "multipleBirthInteger": 2, "deceasedBoolean": False}
    assert canonical(serialize_resource(patient, model)) == canonical(xml(
        '<extension url="http://example.org/x"><valueQuantity><value value="1.5"/><unit value="kg"/>'
        '</valueQuantity></extension><name><given value="A"/><given id="g2"><extension url="http://example.org/x">'
        '<valueQuantity><value value="1.5"/><unit value="kg"/></valueQuantity></extension></given>'
        '<given value="C"/></name><deceasedBoolean value="false"/><multipleBirthInteger value="2"/>'))


def test_serialize_decimals(model: Model) -> None:
    observation = {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                   "component": [{"code": {"text": str(i)}, "valueQuantity": {"value": value}}
                                 for i, value in enumerate([Decimal("1.50"), 0.1, 72, 1e-07, Decimal("-0.000")])]}
    written = serialize_resource(observation, model).decode()
    for text in ('"1.50"', '"0.1"', '"72"', '"1e-07"', '"-0.000"'):
        assert f"<value value={text}/>" in written


def test_serialize_resources_in_resources_and_narrative(model: Model) -> None:
    div = f'<div xmlns="{XHTML_NS}"><p>Anna &amp; <b>Jan</b></p></div>'
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Patient", "text": {"status": "generated", "div": div},
                      "contained": [{"resourceType": "Organization", "name": "O"}]}}]}
    written = serialize_resource(bundle, model)
    assert canonical(written) == canonical(xml(
        f'<type value="collection"/><entry><resource><Patient><text><status value="generated"/>{div}</text>'
        '<contained><Organization><name value="O"/></Organization></contained></Patient></resource></entry>',
        "Bundle"))
    assert parse_resource(written, model) == bundle


def test_serialize_narrative_without_namespace_gets_the_xhtml_one(model: Model) -> None:
    patient = {"resourceType": "Patient", "text": {"status": "generated", "div": "<div><p>x</p></div>"}}
    written = serialize_resource(patient, model)
    assert f'<div xmlns="{XHTML_NS}"><p>x</p></div>'.encode() in written


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        ({"resourceType": "Unicorn"}, "unknown resourceType 'Unicorn'"),
        ({"active": True}, "unknown resourceType None"),
        ({"resourceType": "Patient", "colour": "blue"}, "Unknown element 'colour' in Patient"),
        ({"resourceType": "Patient", "name": [{"nick": "x"}]}, "Unknown element 'nick' in HumanName"),
        ({"resourceType": "Patient", "name": {"family": "x"}}, "'name' in Patient repeats"),
        ({"resourceType": "Patient", "gender": ["male"]}, "'gender' in Patient does not repeat"),
        ({"resourceType": "Patient", "maritalStatus": "M"}, "must be an object, not a string"),
        ({"resourceType": "Patient", "gender": {"code": "male"}}, "must be a primitive value, not an object"),
        ({"resourceType": "Patient", "_gender": {"value": "x"}}, "may only hold id and extension"),
        ({"resourceType": "Patient", "text": {"status": "generated", "div": "<div><p>x</div>"}},
         "not well-formed XHTML"),
        ({"resourceType": "Patient", "text": {"status": "generated", "div": "<p>x</p>"}}, "must be an XHTML <div>"),
        ({"resourceType": "Patient", "contained": [{"resourceType": "Nope"}]}, "unknown resourceType 'Nope'"),
        ({"resourceType": "Observation", "valueQuantity": {"value": float("nan")}}, "not a finite number"),
        ({"resourceType": "Patient", "gender": "a\x00b"}, "'gender' in Patient holds characters XML cannot carry"),
        ({"resourceType": "Patient", "gender": "\ud800"}, "cannot be written as XML"),
        ({"resourceType": "Observation", "valueQuantity": {"value": Decimal("NaN")}}, "not a finite number"),
        ({"resourceType": "Patient", "_gender": {"extension": {"url": "x"}}}, "expected a list"),
    ],
)
def test_serialize_refuses_what_xml_cannot_say(model: Model, resource: dict, message: str) -> None:
    with pytest.raises(XmlFormatError, match=message):
        serialize_resource(resource, model)


def test_json_round_trip_through_xml(model: Model) -> None:
    """JSON -> XML -> JSON gives the same dict back (orjson decimals)."""
    resource = {
        "resourceType": "Questionnaire", "id": "q", "meta": {"versionId": "2", "profile": ["http://x/p"]},
        "status": "active", "_status": {"extension": [{"url": "http://x/e", "valueString": "s"}]},
        "item": [{"linkId": "1", "type": "group", "item": [
            {"linkId": "1.1", "type": "decimal", "initial": [{"valueDecimal": 2.5}],
             "enableWhen": [{"question": "0", "operator": "exists", "answerBoolean": True}]}]}],
    }
    assert parse_resource(serialize_resource(resource, model), model) == resource


def test_exact_json_helpers_keep_decimal_digits() -> None:
    data = {"value": Decimal("1.50"), "n": 3, "big": Decimal("12345678901234567890.000000000001")}
    text = dumps_exact(data)
    assert text == b'{"value":1.50,"n":3,"big":12345678901234567890.000000000001}'
    assert loads_exact(text) == data and str(loads_exact(text)["value"]) == "1.50"
    assert type(loads_exact(text)["n"]) is int


def test_exact_round_trip_keeps_decimal_digits_the_default_does_not(model: Model) -> None:
    document = xml('<component><code><text value="c"/></code><valueQuantity><value value="1.50"/></valueQuantity>'
                   '</component><component><code><text value="d"/></code><valueRange><low><value value="-0.0"/>'
                   '</low><high><value value="100.000"/></high></valueRange></component>', "Observation")
    exact = serialize_resource(loads_exact(dumps_exact(parse_resource(document, model, exact_decimals=True))), model)
    assert canonical(exact) == canonical(document)
    lossy = serialize_resource(orjson.loads(orjson.dumps(parse_resource(document, model))), model)
    assert canonical(lossy) != canonical(document) and b'value="1.5"' in lossy


# -- lossless round trip of every Nictiz zib2020 example and conformance resource ------------------


def _nictiz_files() -> list[Path]:
    return sorted(NICTIZ.rglob("*.xml")) if NICTIZ.is_dir() else []


@pytest.mark.skipif(not NICTIZ.is_dir(), reason=f"{NICTIZ} is not there")
def test_nictiz_package_has_all_its_folders() -> None:
    files = _nictiz_files()
    for folder in ("examples", "nl-core", "zib", "zib/terminology", "nl-core/terminology"):
        assert any(f.parent.relative_to(NICTIZ).as_posix().startswith(folder) for f in files), folder
    assert len(files) > 900


@pytest.mark.parametrize("path", _nictiz_files(), ids=lambda p: str(p.relative_to(NICTIZ)))
def test_nictiz_xml_json_xml_round_trip_is_lossless(model: Model, path: Path) -> None:
    original = path.read_bytes()
    as_json = dumps_exact(parse_resource(original, model, exact_decimals=True))
    again = serialize_resource(loads_exact(as_json), model)
    assert canonical(again) == canonical(original)
