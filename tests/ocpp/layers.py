"""The Redis channel layer the ASGI server test and its server share (no imports: settings use it)."""


def redis_channel_layers(url: str) -> dict:
    # The socket timeout outlasts channels-redis's 5 s blocking read (redis-py 8 defaults it to 5 s).
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": url, "socket_timeout": 15}]},
        }
    }
