"""Identity providers for tests and demos: a citizen IdP (DigiD-like) and a professional IdP (Dezi-like).

Both speak OpenID Connect (authorization code flow with PKCE S256, discovery, JWKS, userinfo), so
that the node and its clients, which only ever start from an issuer URL, work the same with a real
identity provider configured instead. They log in synthetic people only: citizens by a BSN of the
unissued 9 series, professionals from a list of test professionals.
"""
