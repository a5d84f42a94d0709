"""Role checks for views. A page of a role the person does not hold answers 404."""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404


def role_required(*roles: str):
    """Let through people holding any of ``roles``; send anonymous visitors to the login page.

    Signed-in people without the role get 404, the same answer as for a page that does not
    exist, so the portal does not reveal what it holds to people who may not see it.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not any(user.has_role(role) for role in roles):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
