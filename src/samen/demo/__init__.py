"""``samen demo``: a whole network on loopback, national roles and care providers, each its own process.

:mod:`samen.demo.plan` decides which processes run with which ports, files and flags;
:mod:`samen.demo.processes` starts, watches and stops them; :mod:`samen.demo.setup` does the one-time
work (synthetic region, keys, imports, directory, consent, localization); :mod:`samen.demo.network`
puts it together for the command (:mod:`samen.demo.cli`) and for tests.
"""
