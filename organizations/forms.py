from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth.models import User
from django.contrib.auth.password_validation import validate_password
from django.utils import timezone

from organizations.models import ApiKey, Role, Scope


class ApiKeyCreateForm(forms.Form):
    name = forms.CharField(
        label="Key name",
        max_length=ApiKey._meta.get_field("name").max_length,
        initial="default",
        help_text="What uses it, e.g. “billing service”: so that you know which one to revoke.",
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes",
        choices=[(scope.value, f"{scope.value}: {scope.label}") for scope in Scope],
        widget=forms.CheckboxSelectMultiple,
        help_text="What the key may do; give it only what its user needs.",
        error_messages={"required": "Choose at least one scope."},
    )
    expires_at = forms.DateTimeField(
        label="Expires at (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Empty: the key works until it is revoked.",
    )

    def clean_expires_at(self) -> datetime | None:
        value: datetime | None = self.cleaned_data["expires_at"]
        if value is not None and value <= timezone.now():
            raise forms.ValidationError("Choose a moment in the future.")
        return value


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=User._meta.get_field("username").max_length)
    email = forms.EmailField()
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)
    password = forms.CharField(
        label="Initial password",
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Give it to them privately.",
    )

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        User._meta.get_field("username").run_validators(username)
        if User.objects.filter(username=username).exists():
            raise forms.ValidationError("A login with this username exists already.")
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "password" in cleaned and "username" in cleaned:
            user = User(username=cleaned["username"], email=cleaned.get("email", ""))
            try:
                validate_password(cleaned["password"], user=user)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
