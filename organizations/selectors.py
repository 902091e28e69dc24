from django.db.models import F, QuerySet

from organizations.models import ApiKey, AuditEntry, Membership, Organization


def api_key_list(*, organization: Organization) -> QuerySet[ApiKey]:
    """The organization's keys: the working ones, newest first, then the revoked ones, latest first."""
    return ApiKey.objects.filter(organization=organization).order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at", "-pk"
    )


def membership_list(*, organization: Organization) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(organization=organization)
        .select_related("user")
        .order_by("user__username", "pk")
    )


def membership_get(*, organization: Organization, membership_id: int) -> Membership | None:
    return membership_list(organization=organization).filter(pk=membership_id).first()


def audit_entry_list(
    *, organization: Organization, action: str = "", target_id: str = ""
) -> QuerySet[AuditEntry]:
    """The organization's audit entries, newest first; only an action's or a target's when given."""
    entries = AuditEntry.objects.filter(organization=organization).order_by("-created_at", "-pk")
    if action:
        entries = entries.filter(action=action)
    if target_id:
        entries = entries.filter(target_id=target_id)
    return entries
