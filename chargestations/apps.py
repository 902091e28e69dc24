from django.apps import AppConfig


class ChargestationsConfig(AppConfig):
    name = "chargestations"
    verbose_name = "Charging network"
