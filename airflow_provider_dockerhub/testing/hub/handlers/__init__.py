"""The Hub API handlers, one resource per module, composed by :class:`~..routes.HubOperations`."""
