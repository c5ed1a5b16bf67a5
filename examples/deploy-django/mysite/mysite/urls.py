from django.urls import path

from . import views

urlpatterns = [
    path('', views.home),
    path('products/<slug:slug>/', views.product),
]
