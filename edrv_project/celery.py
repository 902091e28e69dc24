import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "edrv_project.settings")

app = Celery("edrv_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.conf.include = ["edrv_project.tasks"]
