"""The public register (EHDS Art 57(1)(j)) and the information for citizens (Art 58): pages
anyone may read, signed in or not, an Atom feed and JSON-LD per entry. What an entry shows
is decided in ``access/register.py`` alone."""

import json
from datetime import date, datetime, time

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.feedgenerator import Atom1Feed
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from access import selectors_register
from access.forms_register import RegisterSearchForm
from access.register import entry
from access.selectors_register import RegisterFilters
from access.views.common import PAGE_SIZE


def register_list(request):
    """Every received application, newest first, searchable; one page at a time."""
    form = RegisterSearchForm(
        request.GET or None,
        datasets=selectors_register.register_datasets(),
        years=selectors_register.register_years(),
    )
    filters = form.filters() if request.GET else RegisterFilters()
    page = Paginator(selectors_register.register_entries(filters), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "access/register_list.html",
        {
            "form": form,
            "page": page,
            "entries": [entry(a, detail=False) for a in page.object_list],
            "query": form.query() if request.GET else "",
        },
    )


def register_entry(request, pk):
    application = selectors_register.register_entry(pk)
    return render(request, "access/register_entry.html", {"entry": entry(application)})


JSONLD_CONTEXT = {
    "dct": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "ecii": "https://w3id.org/ecii/register#",
    "title": "dct:title",
    "description": "dct:description",
    "issued": {"@id": "dct:issued", "@type": "xsd:date"},
    "datasets": {"@id": "dct:references", "@type": "@id"},
    "organisation": "dct:creator",
    "name": "foaf:name",
    "purpose": "ecii:purpose",
    "aiUse": "ecii:aiUse",
    "outcome": "ecii:outcome",
    "justification": "ecii:justification",
    "decided": {"@id": "ecii:decided", "@type": "xsd:date"},
    "permits": "ecii:permit",
    "conditions": "ecii:conditions",
    "startDate": {"@id": "ecii:startDate", "@type": "xsd:date"},
    "endDate": {"@id": "ecii:endDate", "@type": "xsd:date"},
    "results": "ecii:results",
    "outputs": {"@id": "dct:relation", "@type": "@id"},
}


def jsonld_document(data: dict) -> dict:
    """A register entry as JSON-LD: the entry's address is its IRI and each dataset is named
    by its DCAT IRI (the IRI of the catalogue's HealthDCAT-AP export)."""
    document: dict = {
        "@context": JSONLD_CONTEXT,
        "@id": data["url"],
        "@type": "ecii:RegisterEntry",
        "title": data["lay_title"],
        "description": data["lay_summary"],
        "issued": data["received_on"],
        "organisation": {"@type": "foaf:Organization", "name": data["organisation"]},
        "purpose": data["purpose"],
        "aiUse": data["ai_use"],
        "outcome": data["outcome"],
        "datasets": [d["uri"] for d in data["datasets"]],
    }
    decision = data["decision"]
    if decision:
        document["decided"] = decision["decided_on"]
        document["justification"] = decision["justification"]
        document["permits"] = [
            {
                "@id": f"{data['url']}#permit-{p['number']}",
                "@type": "ecii:Permit",
                "title": p["number"],
                "conditions": p["conditions"],
                "startDate": p["starts_on"],
                "endDate": p["ends_on"],
                "datasets": [d["uri"] for d in p["datasets"]],
                **(
                    {
                        "results": {
                            "description": p["results"]["summary"],
                            "outputs": [o["link"] for o in p["results"]["outputs"]],
                        }
                    }
                    if p["results"]
                    else {}
                ),
            }
            for p in decision["permits"]
        ]
    return document


def register_entry_jsonld(request, pk):
    application = selectors_register.register_entry(pk)
    body = json.dumps(jsonld_document(entry(application)), ensure_ascii=False, indent=2)
    return HttpResponse(body, content_type="application/ld+json; charset=utf-8")


class RegisterFeed(Feed):
    """The latest 50 entries of the register, newest received first, as Atom."""

    feed_type = Atom1Feed
    title = gettext_lazy("Register of data access applications and permits")
    subtitle = gettext_lazy("Applications received, decisions and results (EHDS Article 57)")

    def link(self):
        return reverse("access:register")

    def items(self):
        latest = selectors_register.register_entries(RegisterFilters(), detail=True)[:50]
        return [entry(a) for a in latest]

    def item_title(self, item):
        return f"{item['lay_title']} ({item['outcome_label']})"

    def item_description(self, item):
        parts = [item["lay_summary"], f"{item['organisation']}. {item['purpose_label']}."]
        if item["decision"]:
            parts.append(item["decision"]["justification"])
        return "\n\n".join(parts)

    def item_link(self, item):
        return item["url"]

    def item_pubdate(self, item):
        day = date.fromisoformat(item["received_on"])
        return timezone.make_aware(datetime.combine(day, time()))

    def item_updateddate(self, item):
        decision = item["decision"]
        day = date.fromisoformat(decision["published_on"] if decision else item["received_on"])
        return timezone.make_aware(datetime.combine(day, time()))


register_feed = RegisterFeed()


def citizen_information(request):
    """What the access body tells citizens (Art 58): plain words, configured per deployment
    (docs/configuration.md)."""
    return render(
        request,
        "access/citizen_information.html",
        {
            "body_name": settings.HDAB_NAME,
            "body_email": settings.HDAB_EMAIL,
            "body_url": settings.HDAB_URL,
            "body_address": settings.HDAB_ADDRESS,
            "body_phone": settings.HDAB_PHONE,
            "authority_name": settings.SUPERVISORY_AUTHORITY_NAME,
            "authority_url": settings.SUPERVISORY_AUTHORITY_URL,
            "opt_out": settings.OPT_OUT_INFORMATION,
            "page_title": _("Your health data and research"),
        },
    )
