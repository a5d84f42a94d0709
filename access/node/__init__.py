"""What runs at an imaging node, beside its image server: the wire formats shared with the
portal, the token verifier and the gatekeeper built on them, the de-identification gate
(:mod:`.deid`) and the node-side indexer (:mod:`.indexer`).

This package runs on Debian stable's python3 (3.11) at hospitals. It imports only the standard
library, joserfc and cryptography, and its own modules by relative imports; never Django or the
rest of the portal. One subpackage, the indexer, also reads DICOM files with pydicom (Debian's
python3-pydicom). The portal imports the wire formats and the gate from here, so the issuer and
the verifier, and the portal's ingest and the node's indexer, cannot drift apart. A test imports
it under Debian's python3 with Django blocked.
"""
