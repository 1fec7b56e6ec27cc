"""Vietnamese text normalisation shared by Rasa training and run time.

`normalize` is stdlib-only so both Python environments (rasa 3.10, app 3.11+) import it;
`tokenizer` wraps it as a Rasa component and is imported only inside the rasa environment.
"""

# Metadata of the `session_started` event that opens the tracker Rasa hands a turn
# (`tracker_store`): how many resident messages of the session it left out.
EARLIER_MESSAGES = "hotline_earlier_messages"
