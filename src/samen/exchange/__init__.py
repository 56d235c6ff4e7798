"""Outbound exchange: what this node fetches from other organisations' nodes for its own professionals.

The BgZ across custodians and the medication overview (:mod:`samen.exchange.bgz`, the ``"exchange"``
service), and the nursing handover (eOverdracht). Documented in docs/exchange.md.
"""
