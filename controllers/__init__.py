from . import oauth as oauth
