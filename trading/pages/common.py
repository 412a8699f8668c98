"""What the trading pages share: form body types, the labels of every enum, the public states."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.enums import RequestEncodingType
from litestar.params import Body

from trading.models import CATEGORY_LABELS, EVALUATION_LABELS, METHOD_LABELS, STATE_LABELS, TenderState
from trading.service.documents import DOCUMENT_TYPES

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
Multipart = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]

LABELS = {
    "state": {k.value: v for k, v in STATE_LABELS.items()},
    "category": {k.value: v for k, v in CATEGORY_LABELS.items()},
    "method": {k.value: v for k, v in METHOD_LABELS.items()},
    "evaluation": {k.value: v for k, v in EVALUATION_LABELS.items()},
    "doctype": DOCUMENT_TYPES,
}
PUBLIC_STATES = [s for s in TenderState if s != TenderState.draft]
