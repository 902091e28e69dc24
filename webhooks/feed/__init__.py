"""The event feed: an organization's events, read in order by clients that cannot receive webhooks.

`GET /api/v1/events/feed` (webhooks.api.feed) answers the events after one, oldest first, and can
wait for the next one to commit (a long poll) without a thread or a database connection per
waiting client:

- selectors: the reads, bounded by horizon (nothing answered that an earlier id could still precede);
- announcing: on commit, a word per organization on Redis (pub/sub);
- hub: per web process, one subscription that wakes the waiting clients, and their shared reads;
- waiting: the long poll itself; threads: the few threads the reads run on.
"""
