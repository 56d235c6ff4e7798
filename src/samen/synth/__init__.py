"""Dutch synthetic population and care records (``samen synth``).

A population with the Dutch age and sex structure lives in households in real Dutch places; each
person is enrolled with a GP practice and a pharmacy near home, and some have hospital, nursing-home,
home-care or mental-health episodes. Every care provider (custodian) gets its own folder of nl-core
FHIR resources that its node can import; a manifest lists the custodians. See docs/synth.md.
"""
