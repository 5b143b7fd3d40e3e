"""Running the bot: platform API usage against the quota, and reports of failed sends."""
