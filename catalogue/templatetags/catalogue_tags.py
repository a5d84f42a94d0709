from django import template

register = template.Library()


@register.filter
def lookup(mapping, key):
    """``{{ names|lookup:path }}``: a dictionary value by key (the key itself if absent)."""
    try:
        return mapping.get(str(key), key)
    except AttributeError:
        return key
