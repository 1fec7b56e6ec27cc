"""The rumour inbox: questions about rumours the bot could not match, grouped for admins."""
