from django import forms

from organizations.models import ApiKey


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label="Key name",
        max_length=ApiKey._meta.get_field("name").max_length,
        initial="default",
        help_text="What uses it, e.g. “billing service”: so that you know which one to revoke.",
    )
