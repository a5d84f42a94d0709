"""The access workflow's JSON API: applications, committee reviews, invitations and permits.

Thin, like the pages: parse the input, check access with ``access.selectors`` (404 for anything
the caller may not see, whether or not it exists), call one service, serialise the result. The
services' refusals become answers in one place for every API, ``portal.api_errors``: a refused
rule is 400 with the service's messages, a transition the workflow does not allow is 409, all
as RFC 9457 problem details.

One module per object (``applications``, ``reviews``, ``permits``) on a ``common`` base; the
routes are in ``urls``.
"""
