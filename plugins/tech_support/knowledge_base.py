"""The operator's knowledge-base articles, and which of them answers a user's message.

A knowledge base is a folder of Markdown files, one article each: the first `# ` heading is its title, the rest
its body, and the body's first paragraph the summary the bot quotes. Articles are ranked against a message by
TF-IDF cosine similarity (scikit-learn) over word unigrams and bigrams plus character n-grams within words (so
"updating" still finds "update", and small typos do not lose the match); the title counts twice.

An index is built the first time a folder is searched and kept per folder; it is rebuilt when a file in the
folder is added, removed or changed, so an operator can edit articles without restarting the bot. Building
reads files: call `knowledge_base_for` off the event loop (`asyncio.to_thread`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

__all__ = [
    "MIN_SCORE",
    "Article",
    "KnowledgeBase",
    "SearchResult",
    "knowledge_base_for",
    "normalised_code",
    "read_article",
]

logger = logging.getLogger(__name__)

MIN_SCORE = 0.2
"""Below this cosine similarity the best article is not close enough to count as an answer."""
SUMMARY_LIMIT = 400
"""Characters of the summary at most; a longer first paragraph is cut at the end of a sentence."""
ARTICLE_SUFFIXES = (".md", ".markdown")

_TITLE = re.compile(r"^#\s+(.+?)\s*#*\s*$")
_HEADING = re.compile(r"^#{1,6}\s")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)")
_CODE_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-_][A-Za-z0-9]+)*")
_MIN_CODE_LENGTH = 3


@dataclass(frozen=True)
class Article:
    """One knowledge-base article."""

    title: str
    body: str
    summary: str
    path: Path
    codes: frozenset[str] = field(default_factory=frozenset)
    """The article's words that look like error codes, normalised (see `normalised_code`)."""

    def mentions(self, code: str) -> bool:
        return normalised_code(code) in self.codes


@dataclass(frozen=True)
class SearchResult:
    article: Article
    score: float


def normalised_code(code: str) -> str:
    """An error code as compared: upper case, without separators (`e-1042`, `E_1042` and `E1042` are one)."""
    return re.sub(r"[^0-9A-Z]", "", code.upper())


def _plain(text: str) -> str:
    """Markdown inline markup removed, whitespace collapsed."""
    return " ".join(_EMPHASIS.sub("", _LINK.sub(r"\1", text)).split())


def _summary(body: str) -> str:
    """The body's first paragraph that is not a heading, cut to `SUMMARY_LIMIT` at a sentence end."""
    for paragraph in re.split(r"\n\s*\n", body):
        lines = [line for line in paragraph.strip().splitlines() if line.strip()]
        if not lines or _HEADING.match(lines[0]):
            continue
        text = _plain(" ".join(lines))
        if len(text) <= SUMMARY_LIMIT:
            return text
        cut = text[:SUMMARY_LIMIT]
        end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
        return cut[: end + 1] if end > 0 else cut.rstrip() + "…"
    return ""


def read_article(path: Path) -> Article | None:
    """The article in `path`; None (with a warning naming the file) when it has no text."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        logger.warning("knowledge base: %s cannot be read (%s); it is left out. Save it as UTF-8 text.", path, exc)
        return None
    lines = text.splitlines()
    title_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if title_index is None:
        logger.warning("knowledge base: %s is empty; it is left out. Write a `# Title` line and a body.", path)
        return None
    heading = _TITLE.match(lines[title_index].strip())
    if heading:
        title = _plain(heading.group(1))
        body = "\n".join(lines[title_index + 1 :]).strip()
    else:
        title = path.stem.replace("-", " ").replace("_", " ").strip().capitalize()
        body = "\n".join(lines[title_index:]).strip()
        logger.warning(
            "knowledge base: %s:%d does not start with a `# Title` line; the file name is used as its title",
            path,
            title_index + 1,
        )
    summary = _summary(body)
    if not summary:
        logger.warning("knowledge base: %s has a title but no text; it is left out. Add a paragraph.", path)
        return None
    codes = frozenset(
        code
        for token in _CODE_TOKEN.findall(f"{title}\n{body}")
        if len(code := normalised_code(token)) >= _MIN_CODE_LENGTH and any(c.isdigit() for c in code)
    )
    return Article(title, _plain(body), summary, path, codes)


def _vectorizer() -> FeatureUnion:
    return FeatureUnion(
        [
            ("words", TfidfVectorizer(stop_words="english", ngram_range=(1, 2), sublinear_tf=True)),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)),
        ]
    )


class KnowledgeBase:
    """Articles and their TF-IDF index."""

    def __init__(self, articles: Sequence[Article]) -> None:
        self.articles = list(articles)
        self._vectorizer: FeatureUnion | None = None
        self._matrix: Any = None
        if self.articles:
            self._vectorizer = _vectorizer()
            self._matrix = self._vectorizer.fit_transform([self._document(a) for a in self.articles])

    @staticmethod
    def _document(article: Article) -> str:
        return f"{article.title}\n{article.title}\n{article.body}"

    @classmethod
    def from_folder(cls, folder: Path) -> KnowledgeBase:
        """Every article in `folder` (not its subfolders), in file-name order."""
        if not folder.is_dir():
            logger.warning(
                "knowledge base: the folder %s does not exist; the bot will find no articles. Set "
                "knowledge_base_folder under tech_support in conductor.yml to a folder of Markdown articles.",
                folder,
            )
            return cls([])
        paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in ARTICLE_SUFFIXES)
        if not paths:
            logger.warning("knowledge base: %s holds no Markdown (.md) articles; the bot will find none.", folder)
        articles = [article for path in paths if (article := read_article(path)) is not None]
        return cls(articles)

    def search(self, query: str, limit: int = 3) -> list[SearchResult]:
        """The articles most similar to `query`, best first, at least `MIN_SCORE` similar."""
        if self._vectorizer is None or not query.strip():
            return []
        # rows are L2-normalised per block; the union of two blocks has norm sqrt(2), hence the halving
        scores = np.asarray((self._matrix @ self._vectorizer.transform([query]).T).todense()).ravel() / 2
        order = np.argsort(-scores, kind="stable")[:limit]
        return [SearchResult(self.articles[i], float(scores[i])) for i in order if scores[i] >= MIN_SCORE]

    def best_match(self, query: str) -> SearchResult | None:
        found = self.search(query, limit=1)
        return found[0] if found else None

    def article_mentioning(self, code: str, context: str = "") -> Article | None:
        """The article that mentions the error `code` (the one closest to `context` if several do)."""
        mentioning = [article for article in self.articles if article.mentions(code)]
        if len(mentioning) <= 1 or not context.strip():
            return mentioning[0] if mentioning else None
        ranked = {id(result.article): result.score for result in self.search(context, limit=len(self.articles))}
        return max(mentioning, key=lambda article: ranked.get(id(article), 0.0))


_Signature = tuple[tuple[str, int, int], ...]
_cache: dict[Path, tuple[_Signature, KnowledgeBase]] = {}
_cache_lock = threading.Lock()


def _signature(folder: Path) -> _Signature:
    if not folder.is_dir():
        return ()
    entries = []
    for path in folder.iterdir():
        if path.is_file() and path.suffix.lower() in ARTICLE_SUFFIXES:
            stat = path.stat()
            entries.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(sorted(entries))


def knowledge_base_for(folder: Path) -> KnowledgeBase:
    """The knowledge base of `folder`, built on first use and rebuilt when its articles change."""
    key = folder.resolve()
    with _cache_lock:
        signature = _signature(key)
        cached = _cache.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        knowledge_base = KnowledgeBase.from_folder(key)
        _cache[key] = (signature, knowledge_base)
        logger.info("knowledge base: %d article(s) indexed from %s", len(knowledge_base.articles), key)
        return knowledge_base
