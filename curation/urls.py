from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from curation.api import api
from curation.projects.throttle import ThrottledAuthenticationForm

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="projects:list", permanent=False)),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(authentication_form=ThrottledAuthenticationForm),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("curation.projects.urls")),
    path("", include("curation.seeds.urls")),
    path("", include("curation.samples.urls")),
    path("", include("generation.runs.urls")),
    path("", include("curation.review.urls")),
    path("", include("curation.exports.urls")),
    path("", include("curation.dedup.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
]
