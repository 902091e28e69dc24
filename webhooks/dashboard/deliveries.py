"""One delivery's page (what was sent, what came back, attempt by attempt), and the endpoint page's
live status: its pending deliveries and figures as JSON, polled by static/dashboard/dashboard.js.

Both read, so any member may; both are scoped to the organization's endpoint (another's id is a
404) and, through it, to that endpoint's deliveries (another's delivery id is a 404, or left out).
"""

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views import View

from webhooks.dashboard import selectors
from webhooks.dashboard.exchanges import delivery_exchange
from webhooks.dashboard.views import WebhooksAccessMixin

# The endpoint page shows at most a page of deliveries; its script asks for the pending ones.
MAX_LIVE_IDS = 50


class DeliveryDetailView(WebhooksAccessMixin, View):
    def get(self, request: HttpRequest, wh_id: str, delivery_id: str) -> HttpResponse:
        endpoint = self.get_endpoint(wh_id)
        delivery = selectors.delivery_get_with_attempts(endpoint=endpoint, delivery_id=int(delivery_id))
        if delivery is None:
            raise Http404("No such delivery.")
        delivery.endpoint = endpoint  # the one loaded already: its secrets check the signatures
        context = self.webhooks_context(
            endpoint=endpoint,
            delivery=delivery,
            event=delivery.event,
            exchange=delivery_exchange(delivery=delivery),
        )
        return render(request, "webhooks/delivery.html", context)


class DeliveryLiveView(WebhooksAccessMixin, View):
    """`?ids=1,2`: those deliveries' states, each with its row of the log as HTML, and the
    endpoint's figures; what the page's script swaps in while something is pending."""

    def get(self, request: HttpRequest, wh_id: str) -> HttpResponse:
        health = selectors.endpoint_get_with_health(organization=self.organization, public_id=wh_id)
        if health is None:
            raise Http404("No such webhook endpoint.")
        ids = [
            int(part)
            for part in request.GET.get("ids", "").split(",")
            if part.isdecimal() and len(part) <= 18
        ]
        context = self.webhooks_context(endpoint=health.endpoint, health=health)
        deliveries = selectors.deliveries_of(endpoint=health.endpoint, ids=ids[:MAX_LIVE_IDS])
        last = health.last_attempt_at
        response = JsonResponse(
            {
                "deliveries": [
                    {
                        "id": delivery.pk,
                        "status": delivery.status,
                        "attempt_count": delivery.attempt_count,
                        "last_status_code": delivery.last_status_code,
                        "html": render_to_string(
                            "webhooks/_delivery.html", {**context, "delivery": delivery}, request=request
                        ),
                    }
                    for delivery in deliveries
                ],
                "endpoint": {
                    "success_rate": health.success_rate,
                    "attempts": health.attempts,
                    "succeeded": health.succeeded,
                    "last_attempt_at": last.isoformat() if last else None,
                    "html": {
                        "rate": render_to_string("webhooks/_rate.html", {"health": health}),
                        "last-attempt": render_to_string("webhooks/_last_attempt.html", {"health": health}),
                    },
                },
            }
        )
        response["Cache-Control"] = "no-store"
        return response
