from django.urls import path

from catalogue import api

app_name = "catalogue_api"

urlpatterns = [
    path("datasets/", api.DatasetSearchApi.as_view(), name="datasets"),
    path("datasets/<int:pk>/", api.DatasetDetailApi.as_view(), name="dataset"),
    path("datasets/<int:pk>/ingest/", api.DatasetIngestApi.as_view(), name="dataset_ingest"),
    path("basket/", api.BasketApi.as_view(), name="basket"),
    path("basket/<int:pk>/", api.BasketItemApi.as_view(), name="basket_item"),
]
