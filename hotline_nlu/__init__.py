"""Vietnamese text normalisation shared by Rasa training and run time.

`normalize` is stdlib-only so both Python environments (rasa 3.10, app 3.11+) import it;
`tokenizer` wraps it as a Rasa component and is imported only inside the rasa environment.
"""
