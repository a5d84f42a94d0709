"""The gatekeeper's own entry point with the stand-in verifier, until ``access.node.verifier``
exists (``harness.gatekeeper_command`` then runs ``python -m access.node.gatekeeper``)."""

import sys

from access.node import gatekeeper
from tests.node.standin_verifier import StandInVerifier

if __name__ == "__main__":
    sys.exit(
        gatekeeper.main(
            sys.argv[1:],
            make_verifier=lambda config: StandInVerifier(
                issuer=config.issuer,
                audience=config.audience,
                jwks_url=config.jwks_url,
                leeway=config.leeway,
                jwks_refresh_floor=config.jwks_refresh_floor,
            ),
        )
    )
