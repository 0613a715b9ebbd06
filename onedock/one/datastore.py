"""DS_DRIVER_ACTION_DATA: what a datastore action is about."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple

from onedock.errors import OneDockError
from onedock.one.xmldoc import decode_base64, flat, integer, parse, text

IMAGE_TYPES = {"0": "OS", "1": "CDROM", "2": "DATABLOCK", "3": "KERNEL", "4": "RAMDISK",
               "5": "CONTEXT", "6": "BACKUP"}


class ImageData(NamedTuple):
    id: int
    name: str
    type: str
    path: str
    source: str
    format: str
    fs: str
    size_mb: int
    persistent: bool
    cloning_id: int
    template: Mapping[str, str] = MappingProxyType({})


class DatastoreData(NamedTuple):
    id: int
    name: str
    ds_mad: str
    tm_mad: str
    base_path: str
    type: int
    template: Mapping[str, str] = MappingProxyType({})

    def dirs(self, key: str) -> list[str]:
        return [d for d in self.template.get(key, "").split() if d]


class DsAction(NamedTuple):
    image: ImageData | None
    datastore: DatastoreData
    destination_ds: int = -1  # restore: the image datastore the backup goes back into
    options: Mapping[str, str] = MappingProxyType({})  # restore: USERNAME, NO_NIC, NO_IP, ...


def parse_ds_action(payload: bytes | str) -> DsAction:
    """Parse the base64 DS_DRIVER_ACTION_DATA that oned writes to a DS script's stdin."""
    what = "DS_DRIVER_ACTION_DATA"
    doc = parse(decode_base64(payload, what), "DS_DRIVER_ACTION_DATA", what)
    ds_el = doc.find("DATASTORE")
    if ds_el is None:
        raise OneDockError(f"{what} lacks <DATASTORE>")
    datastore = DatastoreData(
        id=integer(ds_el, "ID", what),
        name=text(ds_el, "NAME"),
        ds_mad=text(ds_el, "DS_MAD"),
        tm_mad=text(ds_el, "TM_MAD"),
        base_path=text(ds_el, "BASE_PATH"),
        type=integer(ds_el, "TYPE", what, 0),
        template=flat(ds_el.find("TEMPLATE")),
    )
    img_el = doc.find("IMAGE")
    image = None
    if img_el is not None:
        image = ImageData(
            id=integer(img_el, "ID", what, -1),
            name=text(img_el, "NAME"),
            type=IMAGE_TYPES.get(text(img_el, "TYPE", "0"), text(img_el, "TYPE")),
            path=text(img_el, "PATH"),
            source=text(img_el, "SOURCE"),
            format=text(img_el, "FORMAT"),
            fs=text(img_el, "FS"),
            size_mb=integer(img_el, "SIZE", what, 0),
            persistent=text(img_el, "PERSISTENT") == "1",
            cloning_id=integer(img_el, "CLONING_ID", what, -1),
            template=flat(img_el.find("TEMPLATE")),
        )
    return DsAction(image, datastore, integer(doc, "DESTINATION_DS_ID", what, -1),
                    flat(doc.find("TEMPLATE")))


def vm_of_action(data: bytes) -> bytes:
    """The <VM> document inside the raw (not base64) DS_DRIVER_ACTION_DATA of a backup step."""
    from xml.etree.ElementTree import tostring

    what = "DS_DRIVER_ACTION_DATA"
    vm = parse(data, what, what).find("VM")
    if vm is None:
        raise OneDockError(f"{what} lacks <VM>")
    return tostring(vm)
