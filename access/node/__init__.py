"""What runs at an imaging node, beside its image server: the wire formats shared with the
portal, and (later) the token verifier and the gatekeeper built on them.

This package runs on Debian stable's python3 (3.11) at hospitals. It imports only the standard
library, joserfc and cryptography, and its own modules by relative imports; never Django or the
rest of the portal. The portal imports the wire formats from here, so the issuer and the
verifier cannot drift apart. A test imports it under Debian's python3 with Django blocked.
"""
