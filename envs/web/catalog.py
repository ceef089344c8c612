"""The shop's catalogue, its search engine, shopping goals and the reward.

The catalogue (a few hundred products) is generated deterministically from a fixed seed the
first time it is needed, so every install has the same products: each has a category, a
product type, a title, attributes ("cotton", "waterproof"), options (size, colour, ...), a
price, a rating and a description. Search ranks products with BM25 (``rank-bm25``) over their
title, type, attributes and description.

A goal is drawn from the catalogue: a target product, a subset of its attributes, one value
per option and a price bound above its price. The reward of a purchase follows WebShop
(Yao et al., 2022)::

    reward = r_type * (matched attributes + matched options + [price <= bound])
                    / (goal attributes + goal options + 1)

where ``r_type`` is 1 for the goal's product type, 0.5 for another type of the same
category and 0.1 otherwise. Only a purchase that matches everything earns 1.0.
"""

from __future__ import annotations

import functools
import math
import random
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Product",
    "Goal",
    "Catalog",
    "catalog",
    "purchase_reward",
    "tokenize",
]

#: The fixed seed of the catalogue; changing it changes every product.
CATALOG_SEED = 20240611

# category -> product type -> (price range, option name -> values, attribute pool, materials)
_TYPES: dict[str, dict[str, dict[str, Any]]] = {
    "clothing": {
        "t-shirt": {
            "price": (8, 35),
            "options": {"size": ["S", "M", "L", "XL"]},
            "attrs": ["cotton", "slim fit", "machine washable", "short sleeve", "organic"],
        },
        "hoodie": {
            "price": (25, 70),
            "options": {"size": ["S", "M", "L", "XL"]},
            "attrs": ["fleece", "zip up", "machine washable", "pullover", "cotton"],
        },
        "jeans": {
            "price": (30, 90),
            "options": {"size": ["28W", "30W", "32W", "34W", "36W"]},
            "attrs": ["stretch", "slim fit", "straight leg", "high waist", "denim"],
        },
        "rain jacket": {
            "price": (40, 140),
            "options": {"size": ["S", "M", "L", "XL"]},
            "attrs": ["waterproof", "hooded", "lightweight", "packable", "breathable"],
        },
    },
    "shoes": {
        "running shoes": {
            "price": (45, 160),
            "options": {"size": ["7", "8", "9", "10", "11", "12"]},
            "attrs": ["breathable", "lightweight", "non slip", "cushioned", "mesh"],
        },
        "hiking boots": {
            "price": (60, 220),
            "options": {"size": ["7", "8", "9", "10", "11", "12"]},
            "attrs": ["waterproof", "leather", "ankle support", "non slip", "insulated"],
        },
        "sandals": {
            "price": (15, 60),
            "options": {"size": ["6", "7", "8", "9", "10", "11"]},
            "attrs": ["adjustable strap", "arch support", "quick dry", "leather", "non slip"],
        },
    },
    "home": {
        "coffee mug": {
            "price": (6, 30),
            "options": {"capacity": ["8 oz", "12 oz", "16 oz"]},
            "attrs": ["ceramic", "dishwasher safe", "microwave safe", "insulated", "handmade"],
        },
        "desk lamp": {
            "price": (15, 80),
            "options": {},
            "attrs": ["led", "dimmable", "usb charging", "adjustable arm", "touch control"],
        },
        "throw pillow": {
            "price": (10, 45),
            "options": {"pack": ["1 pack", "2 pack", "4 pack"]},
            "attrs": ["velvet", "machine washable", "hypoallergenic", "linen", "zipper cover"],
        },
        "bath towel": {
            "price": (9, 50),
            "options": {"pack": ["2 pack", "4 pack", "6 pack"]},
            "attrs": ["cotton", "quick dry", "absorbent", "oversized", "bamboo"],
        },
    },
    "electronics": {
        "wireless earbuds": {
            "price": (20, 180),
            "options": {},
            "attrs": [
                "noise cancelling",
                "waterproof",
                "bluetooth",
                "long battery",
                "charging case",
            ],
        },
        "phone charger": {
            "price": (8, 45),
            "options": {"length": ["3 ft", "6 ft", "10 ft"]},
            "attrs": ["fast charging", "usb c", "braided cable", "wall adapter", "foldable plug"],
        },
        "portable speaker": {
            "price": (25, 150),
            "options": {},
            "attrs": ["bluetooth", "waterproof", "long battery", "bass boost", "lightweight"],
        },
    },
    "outdoors": {
        "backpack": {
            "price": (25, 120),
            "options": {},
            "attrs": [
                "waterproof",
                "laptop sleeve",
                "lightweight",
                "padded straps",
                "large capacity",
            ],
        },
        "water bottle": {
            "price": (8, 40),
            "options": {"capacity": ["16 oz", "24 oz", "32 oz"]},
            "attrs": ["stainless steel", "insulated", "bpa free", "leak proof", "wide mouth"],
        },
        "camping tent": {
            "price": (50, 260),
            "options": {"capacity": ["2 person", "4 person", "6 person"]},
            "attrs": ["waterproof", "easy setup", "lightweight", "ventilated", "rainfly"],
        },
    },
}

_COLORS = [
    "black",
    "white",
    "red",
    "blue",
    "navy",
    "green",
    "grey",
    "beige",
    "pink",
    "yellow",
    "brown",
    "purple",
]
_BRANDS = [
    "Northwind",
    "Alder & Co",
    "Brightpeak",
    "Cobalt Lane",
    "Driftwood",
    "Everfield",
    "Foxglove",
    "Granite Bay",
    "Harbor Goods",
    "Ironleaf",
    "Juniper",
    "Kestrel",
]
_STYLE = ["Classic", "Everyday", "Essential", "Premium", "Urban", "Trail", "Studio", "Comfort"]
_WORD_RE = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits)."""
    return _WORD_RE.findall(text.lower())


@dataclass(frozen=True)
class Product:
    """One product of the shop."""

    id: str
    category: str
    product_type: str
    title: str
    brand: str
    attributes: tuple[str, ...]
    options: dict[str, tuple[str, ...]]
    price: float
    rating: float
    description: str

    def search_text(self) -> str:
        return " ".join(
            [self.title, self.product_type, self.category, *self.attributes, self.description]
        )


@dataclass(frozen=True)
class Goal:
    """What the shopper asks for."""

    product_id: str
    category: str
    product_type: str
    attributes: tuple[str, ...]
    options: dict[str, str]
    max_price: float
    instruction: str
    #: The words of the instruction a search would use.
    query_words: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "product_id": self.product_id,
            "category": self.category,
            "product_type": self.product_type,
            "attributes": list(self.attributes),
            "options": dict(self.options),
            "max_price": self.max_price,
            "instruction": self.instruction,
            "query_words": list(self.query_words),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Goal:
        return cls(
            product_id=str(d["product_id"]),
            category=str(d["category"]),
            product_type=str(d["product_type"]),
            attributes=tuple(d["attributes"]),
            options={str(k): str(v) for k, v in dict(d["options"]).items()},
            max_price=float(d["max_price"]),
            instruction=str(d["instruction"]),
            query_words=tuple(d.get("query_words", ())),
        )


def _generate(seed: int) -> list[Product]:
    rng = random.Random(seed)
    products: list[Product] = []
    n = 0
    for category, types in _TYPES.items():
        for ptype, spec in types.items():
            for _ in range(20):
                n += 1
                brand = rng.choice(_BRANDS)
                attrs = tuple(sorted(rng.sample(spec["attrs"], rng.randint(2, 3))))
                colors = tuple(sorted(rng.sample(_COLORS, rng.randint(2, 4))))
                options: dict[str, tuple[str, ...]] = {"color": colors}
                for name, values in spec["options"].items():
                    k = rng.randint(2, len(values))
                    chosen = sorted(rng.sample(values, k), key=values.index)
                    options[name] = tuple(chosen)
                lo, hi = spec["price"]
                price = round(rng.uniform(lo, hi), 0) - 0.01
                style = rng.choice(_STYLE)
                lead = rng.choice(attrs)
                title = f"{brand} {style} {lead.title()} {ptype.title()}"
                desc = (
                    f"A {style.lower()} {ptype} from {brand}: {', '.join(attrs)}. "
                    f"Available in {', '.join(colors)}."
                )
                products.append(
                    Product(
                        id=f"P{n:04d}",
                        category=category,
                        product_type=ptype,
                        title=title,
                        brand=brand,
                        attributes=attrs,
                        options=options,
                        price=price,
                        rating=round(rng.uniform(3.0, 5.0), 1),
                        description=desc,
                    )
                )
    return products


class Catalog:
    """Products, BM25 search over them, and goal sampling."""

    def __init__(self, products: list[Product]) -> None:
        from rank_bm25 import BM25Okapi

        self.products = products
        self.by_id = {p.id: p for p in products}
        self._bm25 = BM25Okapi([tokenize(p.search_text()) for p in products])

    def __len__(self) -> int:
        return len(self.products)

    def search(self, query: str, limit: int = 50) -> list[Product]:
        """Products ranked by BM25 for ``query`` (ties keep catalogue order)."""
        words = tokenize(query)[:64]
        if not words:
            return []
        scores = self._bm25.get_scores(words)
        order = sorted(range(len(self.products)), key=lambda i: (-scores[i], i))
        return [self.products[i] for i in order[:limit] if scores[i] > 0]

    def sample_goal(self, rng: random.Random) -> Goal:
        """A goal for a random product (deterministic for a given ``rng`` state)."""
        p = self.products[rng.randrange(len(self.products))]
        attrs = tuple(sorted(rng.sample(p.attributes, rng.randint(1, min(2, len(p.attributes))))))
        opts = {name: rng.choice(values) for name, values in p.options.items()}
        bound = math.ceil((p.price + 0.01) * rng.uniform(1.05, 1.5))
        color = opts.get("color", "")
        rest = [f"{name} {v}" if name != "size" else f"size {v}" for name, v in opts.items()]
        rest = [r for r in rest if not r.startswith("color ")]
        desc = " and ".join(attrs)
        if p.product_type.endswith("s"):  # running shoes, jeans: no article, plural verb
            text = f"I need {color} {p.product_type} that are {desc}"
        else:
            text = f"I need {_article(color)} {color} {p.product_type} that is {desc}"
        if rest:
            text += ", " + ", ".join(rest)
        text += f", and price lower than {bound:.2f} dollars"
        words = tuple(dict.fromkeys([color, *attrs, p.product_type]))
        return Goal(
            product_id=p.id,
            category=p.category,
            product_type=p.product_type,
            attributes=attrs,
            options=opts,
            max_price=float(bound),
            instruction=text,
            query_words=tuple(w for w in words if w),
        )

    def matches(self, product: Product, goal: Goal) -> bool:
        """True when buying ``product`` with the goal's options earns the full reward."""
        return (
            product.product_type == goal.product_type
            and set(goal.attributes) <= set(product.attributes)
            and all(v in product.options.get(k, ()) for k, v in goal.options.items())
            and product.price <= goal.max_price
        )


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def purchase_reward(product: Product, options: dict[str, str], goal: Goal) -> float:
    """WebShop's reward for buying ``product`` with ``options`` when asked for ``goal``."""
    if product.product_type == goal.product_type:
        r_type = 1.0
    elif product.category == goal.category:
        r_type = 0.5
    else:
        r_type = 0.1
    attrs = sum(1 for a in goal.attributes if a in product.attributes)
    opts = sum(1 for k, v in goal.options.items() if options.get(k) == v)
    price = 1 if product.price <= goal.max_price else 0
    total = len(goal.attributes) + len(goal.options) + 1
    return r_type * (attrs + opts + price) / total


@functools.lru_cache(maxsize=1)
def catalog() -> Catalog:
    """The shop's catalogue (built once per process)."""
    return Catalog(_generate(CATALOG_SEED))
