"""Rasa input channels: the web chat page (``channels.web``) and WeChat
official accounts (``channels.wechat``).

Each channel module has the shape of Rasa's own channels; its protocol work
sits in a pure module beside it (``channels.web_protocol``,
``channels.wechat_protocol``).
"""
