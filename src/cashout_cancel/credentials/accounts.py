"""The credentials of every D24 merchant account one deployment serves (docs/contract.md section
11).

One CredentialStore per account, so that each account's secret is cached, expires and is re-read
after a refusal on its own: the default account's (`D24_SECRET_ID`), always kept, and the named
accounts' (`D24_MERCHANT_SECRET_PREFIX` + name), at most `MERCHANT_CACHE_SIZE` accounts in all,
the least recently used named one giving way first (it is simply read again when next needed).
A bounded OrderedDict rather than functools.lru_cache or cachetools: an account enters the
bound only once its secret was read, and leaves it when its secret turns out not to exist.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from ..d24.redaction import Redaction
from ..deadline import Deadline
from ..settings import ConfigurationError
from .secret import Credentials
from .secrets_manager import SecretNotFound
from .store import CredentialStore, Fetched, SecretReader


class AccountNotServed(Exception):
    """The request names an account this deployment cannot serve, or names none when it must;
    `message` names the `merchant` field, never its value."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Accounts:
    """Which store holds which account's credentials; safe to share across threads."""

    def __init__(
        self,
        default_secret_id: str | None,
        prefix: str | None,
        read: SecretReader,
        ttl: float,
        size: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._prefix = prefix
        self._make: Callable[[str], CredentialStore] = lambda secret_id: CredentialStore(
            secret_id, read, ttl, clock
        )
        self._default = self._make(default_secret_id) if default_secret_id else None
        # The default account counts towards the bound and is never the one to give way.
        self._named_limit = max(0, size - (self._default is not None))
        self._named: OrderedDict[str, CredentialStore] = OrderedDict()
        self._lock = threading.Lock()
        # The credentials the union of redactions below was built from, by id, and that union.
        self._withheld: tuple[dict[int, Credentials], Redaction] = ({}, Redaction())

    def store_for(self, merchant: str | None) -> CredentialStore:
        """The store of `merchant`'s credentials (None: the default account), or
        AccountNotServed when this configuration has no such kind of account."""
        if merchant is None:
            if self._default is None:
                raise AccountNotServed(
                    "merchant is required: this deployment has no default account"
                )
            return self._default
        if self._prefix is None:
            raise AccountNotServed(
                "merchant cannot be named: this deployment serves only its default account"
            )
        with self._lock:
            store = self._named.get(merchant)
            if store is None:
                # Made under the lock: concurrent first requests for an account share one
                # store, whose own lock then reads the secret once for all of them.
                store = self._named[merchant] = self._make(self._prefix + merchant)
            else:
                self._named.move_to_end(merchant)
            return store

    def credentials(
        self, merchant: str | None, store: CredentialStore, deadline: Deadline
    ) -> Fetched:
        """The credentials in `store` (`merchant`'s, from `store_for`), read when not cached.

        A named account takes its place among the cached ones once its secret was read (the
        least recently used giving way beyond the bound); one whose first read fails holds
        nothing and is dropped, so that names of accounts that do not exist never push out
        the ones that do. SecretNotFound (UNKNOWN_MERCHANT for a named account) and the other
        ConfigurationErrors pass through.
        """
        if merchant is None:
            return store.get(deadline)
        first = store.loaded is None
        try:
            fetched = store.get(deadline)
        except SecretNotFound:
            self._drop(merchant, store)
            raise
        except ConfigurationError:
            if store.loaded is None:
                self._drop(merchant, store)
            raise
        if first:
            self._admit(merchant, store)
        return fetched

    def _admit(self, merchant: str, store: CredentialStore) -> None:
        with self._lock:
            if self._named.setdefault(merchant, store) is store:
                self._named.move_to_end(merchant)
            while len(self._named) > self._named_limit:
                self._named.popitem(last=False)

    def _drop(self, merchant: str, store: CredentialStore) -> None:
        with self._lock:
            if self._named.get(merchant) is store:
                del self._named[merchant]

    def withheld(self, credentials: Credentials) -> Redaction:
        """What anything passed on from D24 must withhold (docs/contract.md section 6): every form
        of the credentials of every account loaded in this container, `credentials` included."""
        included, redaction = self._withheld
        if id(credentials) in included:  # the warm path: a dict look-up
            return redaction
        return self._rebuild_withheld(credentials)

    def _rebuild_withheld(self, credentials: Credentials) -> Redaction:
        # Credentials read since the last build: every account's are gathered again. Each read
        # is followed by a D24 call with what it read, which comes here, so that the union
        # holds every loaded account's credentials from before its first call on. The map keeps
        # the objects alive, so that their ids stay theirs.
        with self._lock:
            stores = [self._default] if self._default is not None else []
            stores += self._named.values()
            loaded = {id(c): c for store in stores if (c := store.loaded) is not None}
            loaded[id(credentials)] = credentials
            redaction = Redaction.union(c.redaction for c in loaded.values())
            self._withheld = (loaded, redaction)
        return redaction

    def clear(self) -> None:
        """Forget every account's cached credentials (SnapStart restore, tests)."""
        if self._default is not None:
            self._default.clear()
        with self._lock:
            self._named.clear()
            self._withheld = ({}, Redaction())
