"""Free-text Chinese addresses: normalise them and match them to the standard address base."""

from gridgis.address.matcher import AddressError, AddressMatch, AddressMatcher, MatchedAddress
from gridgis.address.normalize import NormalizedAddress, normalize

__all__ = [
    "AddressError",
    "AddressMatch",
    "AddressMatcher",
    "MatchedAddress",
    "NormalizedAddress",
    "normalize",
]
