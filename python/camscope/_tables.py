"""Tables of the package (a report's per-class metrics, pairs, label-error candidates; predictions):
a pandas DataFrame when pandas can be imported, else a list of dicts (pandas stays optional).
``frame=True`` asks for a DataFrame (an ImportError without pandas), ``frame=False`` for the list.

The columns are summary.json's keys (the one home of these names); a DataFrame flattens nested
objects into dotted columns (``focus.centre_share_correct``), the list keeps the summary's dicts
(copies) as they are."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Union

if TYPE_CHECKING:  # type checkers see the DataFrame; at run time pandas may be missing (and is not imported
    import pandas  # until a table is made), so typing.get_type_hints resolves it as Any

    Table = Union[pandas.DataFrame, List[Dict[str, Any]]]
else:
    Table = Union[Any, List[Dict[str, Any]]]


def _pandas(frame: Optional[bool]) -> Any:
    """The pandas module when a DataFrame is wanted (frame True, or None and pandas importable), else None."""
    if frame is False:
        return None
    try:
        import pandas
    except ImportError:
        if frame:
            raise ImportError("frame=True needs pandas (pip install pandas; Debian: python3-pandas)") from None
        return None
    return pandas


def _ordered(row: Mapping[str, Any], first: Sequence[str]) -> Dict[str, Any]:
    head = {k: row[k] for k in first if k in row}
    head.update((k, v) for k, v in row.items() if k not in head)
    return head


def rows_table(rows: Sequence[Mapping[str, Any]], frame: Optional[bool], first: Sequence[str] = ()) -> Table:
    """``rows`` (dicts, as in summary.json) as a table; the columns in ``first`` lead, in that order."""
    ordered = [_ordered(r, first) for r in rows]
    pd = _pandas(frame)
    if pd is None:
        return ordered
    if not ordered:
        return pd.DataFrame(columns=list(first))
    return pd.json_normalize(ordered, sep=".")


def columns_table(columns: Mapping[str, Sequence[Any]], frame: Optional[bool]) -> Table:
    """Equal-length ``columns`` (name -> values, NumPy arrays or lists) as a table, in their order."""
    pd = _pandas(frame)
    if pd is not None:
        return pd.DataFrame(dict(columns))
    names = list(columns)
    values = [c.tolist() if hasattr(c, "tolist") else list(c) for c in columns.values()]
    return [dict(zip(names, row)) for row in zip(*values)] if values else []
