"""Reads and access checks for the catalogue. One access function per object type.

Visibility: anyone sees published datasets; the operators of a node (and access-body
administrators) also see its drafts and retired datasets. Only a node's operators change it.
"""

from django.db.models import Q, QuerySet
from django.http import Http404

from catalogue.models import Dataset, Node
from portal.models import Role


def _is_admin(user) -> bool:
    return user.is_authenticated and user.has_role(Role.HDAB_ADMIN)


def visible_datasets(user) -> QuerySet[Dataset]:
    """Datasets ``user`` may see (anonymous visitors included)."""
    datasets = Dataset.objects.all()
    if _is_admin(user):
        return datasets
    published = Q(status=Dataset.Status.PUBLISHED)
    if user.is_authenticated and user.has_role(Role.NODE_OPERATOR):
        return datasets.filter(published | Q(node__operators=user)).distinct()
    return datasets.filter(published)


def operated_nodes(user) -> QuerySet[Node]:
    if not (user.is_authenticated and user.has_role(Role.NODE_OPERATOR)):
        return Node.objects.none()
    return Node.objects.filter(operators=user)


def access_node(user, pk, *, for_write: bool = False) -> Node:
    """The node ``pk`` if ``user`` may see it (anyone) or change it (its operators); else 404."""
    nodes = operated_nodes(user) if for_write else Node.objects.all()
    try:
        return nodes.get(pk=pk)
    except (Node.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


def access_dataset(user, pk, *, for_write: bool = False) -> Dataset:
    """The dataset ``pk`` if ``user`` may see it, or change it when ``for_write``; else 404.

    "Does not exist" and "not yours" are the same answer.
    """
    if for_write:
        datasets = Dataset.objects.filter(node__in=operated_nodes(user))
    else:
        datasets = visible_datasets(user)
    try:
        return datasets.select_related("node").get(pk=pk)
    except (Dataset.DoesNotExist, ValueError, TypeError):
        raise Http404 from None
