"""A deterministic sample city inside the real 旌阳区, delivered as departments deliver."""

from typing import Literal

#: The sizes :data:`gridgis.samplecity.generate.SCALES` knows, here so that the command
#: line can offer them as a choice without importing the generator.
ScaleName = Literal["small", "city"]
