from django.urls import path

import portal.ids  # noqa: F401  (registers the <id:...> path converter)
from catalogue import api

app_name = "catalogue_api"

urlpatterns = [
    path("datasets/", api.DatasetSearchApi.as_view(), name="datasets"),
    path("datasets/<id:pk>/", api.DatasetDetailApi.as_view(), name="dataset"),
    path("datasets/<id:pk>/ingest/", api.DatasetIngestApi.as_view(), name="dataset_ingest"),
    path("feasibility/", api.FeasibilityApi.as_view(), name="feasibility"),
    path("basket/", api.BasketApi.as_view(), name="basket"),
    path("basket/<id:pk>/", api.BasketItemApi.as_view(), name="basket_item"),
]
