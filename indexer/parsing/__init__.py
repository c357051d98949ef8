"""Parse the text extracted from a report PDF into pages, sections and paragraphs.

What the extracted text looks like, and what this package does about it, one concern a
module (each module's docstring has its rules):

- Each page's items are followed by a block of source URLs: a URL block closes a page, so a
  "page" here is the stretch of text a URL block backs (it can span two printed pages when one
  of them cites nothing). When the source gives its own pages (a PDF, or a text export with
  form feeds), those are the pages instead (:func:`parse_pages`), the URL lines of each page
  are its sources, and a line that opens or closes most pages (a running header or footer)
  is dropped (:mod:`~indexer.parsing.running_lines`). The pipeline: :mod:`~indexer.parsing.report`.
- Source URLs are found in the forms reports and Markdown write them, wrapped by a PDF or
  not: :mod:`~indexer.parsing.urls`.
- Headings are runs of capitalised lines or Markdown headings (a PDF's headings in ordinary
  case arrive as Markdown ones, marked by their type size: :mod:`indexer.pdf_layout`);
  single capitalised words, short figures in capitals and an infographic's captions stay text:
  :mod:`~indexer.parsing.blocks`.
- Sentences and headings that the extraction broke across blank lines are joined, its
  repeats dropped, and the items grouped into titled sections: :mod:`~indexer.parsing.sections`.

Not handled: the reading order of multi-column infographics where labels and numbers come
in separate runs (a stat label can end up apart from its number); a chapter title right after
a figure line and followed by another heading rather than by running text (it stays with the
figures, as a caption would); and headings that are images in the PDF.
"""

from indexer.parsing.report import Page, parse_pages, parse_report
from indexer.parsing.sections import Section

__all__ = ["Page", "Section", "parse_pages", "parse_report"]
