from rest_framework.routers import SimpleRouter

# Routes answer with and without a trailing slash (eDRV documents them without).
router = SimpleRouter(trailing_slash="/?")  # type: ignore[arg-type]

urlpatterns = router.urls
