"""The gateway's own bookkeeping: what a protocol needs remembered between messages (no events)."""

from django.db import models

from chargestations.models import Chargestation


class ChargerTransaction(models.Model):
    """An OCPP 2.0.1 transaction as its TransactionEvents told it (`transaction_events`).

    The session is what the transaction means to the network; this is where its numbered events
    stand: the next seq_no expected, the events that came before an earlier one and wait for it,
    the EVSE (named in the first event only) and the last energy register.
    """

    chargestation = models.ForeignKey(Chargestation, on_delete=models.CASCADE, related_name="+")
    transaction_id = models.CharField(max_length=36)
    evse_id = models.PositiveIntegerField(null=True, blank=True)
    next_seq_no = models.IntegerField(null=True, blank=True, help_text="None until its Started is applied.")
    held = models.JSONField(default=list, blank=True, help_text="Events waiting for an earlier seq_no.")
    last_register_wh = models.FloatField(null=True, blank=True)
    ended = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chargestation", "transaction_id"], name="unique_charger_transaction"
            ),
        ]

    def __str__(self) -> str:
        return f"Transaction {self.transaction_id}"
