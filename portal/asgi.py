import os

from django.core.asgi import get_asgi_application

from portal.middleware import BodyCapASGI

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
# The request-size caps hold before Django reads a body (see portal/middleware.py).
application = BodyCapASGI(get_asgi_application())
