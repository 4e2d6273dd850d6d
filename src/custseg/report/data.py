"""The report's Data section: what was loaded and what it looks like, aggregated in DuckDB.

Every chart is computed as an aggregate in SQL (counts per week, per status, per day of delay...),
so no raw row reaches the page whatever the size of the data.
"""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..currency import Money
from ..ingest import Dataset
from ..schema import TABLES
from .charts import chart, plot_text
from .content import ChartBlock, Facts, Part, Section, Table, Text, fmt_int, fmt_num, fmt_pct

#: Histogram ranges (days): longer delays are counted in the last bin, so outliers stay visible.
DELIVERY_MAX_DAYS = 60
LATENESS_RANGE_DAYS = 30
MAX_INSTALLMENTS = 24
TOP_CATEGORIES = 15
TOP_CITIES = 10

_DELIVERED = "order_status = 'delivered'"


def _rows(ds: Dataset, sql: str) -> list[tuple]:
    return ds.con.execute(sql).fetchall()


def _count(ds: Dataset, sql: str) -> int:
    return ds.con.execute(sql).fetchall()[0][0]


def _category_axis(fig: go.Figure, axis: str = "xaxis") -> None:
    # Labels such as state codes or scores must not be read as numbers or dates by Plotly.
    fig.update_layout({axis: {"type": "category"}})


def headline_facts(ds: Dataset, money: Money = Money()) -> Facts:
    """Orders, people, delivered orders, repeat buyers, purchase dates and revenue."""
    sql = f"""
        WITH delivered AS (
            SELECT o.order_id, c.customer_unique_id
            FROM orders o JOIN customers c USING (customer_id)
            WHERE {_DELIVERED}
        ),
        orders_per_person AS (
            SELECT customer_unique_id, count(DISTINCT order_id) AS n FROM delivered GROUP BY 1
        )
        SELECT
            (SELECT count(*) FROM orders),
            (SELECT count(DISTINCT customer_unique_id) FROM customers),
            (SELECT count(*) FROM delivered),
            (SELECT avg((n > 1)::INT) FROM orders_per_person),
            (SELECT min(order_purchase_timestamp)::DATE FROM orders),
            (SELECT max(order_purchase_timestamp)::DATE FROM orders),
            (SELECT sum(payment_value) FROM payments JOIN delivered USING (order_id))
    """
    orders, people, delivered, repeat, first, last, revenue = ds.con.execute(sql).fetchall()[0]
    log = ds.kind == "log"  # every order of a log counts: it has no delivery to speak of
    return Facts([
        ("orders", fmt_int(orders)),
        ("customers (people)", fmt_int(people)),
        *([] if log else [("delivered orders", fmt_int(delivered))]),
        ("repeat buyers", fmt_pct(repeat)),
        ("first purchase", str(first) if first else "–"),
        ("last purchase", str(last) if last else "–"),
        ("revenue" if log else "payments of delivered orders", money.amount(revenue, 0)),
    ])


def loaded_tables(ds: Dataset) -> Table:
    """One row per non-empty table: file, rows, columns and the range of its first date column."""
    rows = []
    for name, spec in TABLES.items():
        if not ds.rows.get(name):
            continue
        col, first, last = "", "–", "–"
        if spec.date_columns:
            col = spec.date_columns[0]
            lo, hi = ds.con.execute(f'SELECT min("{col}")::DATE, max("{col}")::DATE FROM {name}').fetchall()[0]
            first, last = (str(lo), str(hi)) if lo else ("–", "–")
        file = ds.files[name].name if name in ds.files else "–"
        rows.append([name, file, fmt_int(ds.rows[name]), str(len(spec.columns)), col, first, last])
    return Table(
        ["table", "file", "rows", "columns", "date column", "from", "to"],
        rows,
        numeric=frozenset({"rows", "columns"}),
    )


def validation_block(ds: Dataset) -> Table | Text:
    """The warnings found while loading, or a sentence saying there were none."""
    if not ds.warnings:
        return Text("No problems were found while loading and checking the data.")
    rows = [
        [w.table, w.column or "", w.problem, fmt_int(w.count), ", ".join(map(str, w.examples))]
        for w in ds.warnings
    ]
    return Table(["table", "column", "problem", "rows", "examples"], rows, numeric=frozenset({"rows"}))


def missing_values(ds: Dataset) -> list[tuple[str, str, int, int]]:
    """(table, column, missing, rows) for every column of every non-empty table, in contract order."""
    out: list[tuple[str, str, int, int]] = []
    for name, spec in TABLES.items():
        if not ds.rows.get(name):
            continue
        counts = ", ".join(f'count("{c}")' for c in spec.columns)
        total, *present = ds.con.execute(f"SELECT count(*), {counts} FROM {name}").fetchall()[0]
        out.extend((name, col, total - n, total) for col, n in zip(spec.columns, present))
    return out


def missing_part(ds: Dataset) -> Part:
    """Columns with empty values: a chart of the share missing and a table of counts."""
    part = Part("data-missing", "Missing values")
    if ds.kind == "log":
        part.blocks.append(Text("A transaction log: every mapped column (customer, date, amount and order when "
                                "given) must be filled in every row, so no value is missing."))
        return part
    missing = [m for m in missing_values(ds) if m[2] > 0]
    if not missing:
        part.blocks.append(Text("Every column of every table is complete."))
        return part
    labels = [plot_text(f"{t}.{c}") for t, c, _, _ in missing]
    shares = [m / total for _, _, m, total in missing]
    fig = go.Figure(go.Bar(
        x=shares, y=labels, orientation="h", customdata=[m for _, _, m, _ in missing],
        hovertemplate="%{y}: %{customdata:,} missing (%{x:.1%})<extra></extra>",
    ))
    fig.update_layout(xaxis={"tickformat": ".0%", "title": "share of rows missing"},
                      yaxis={"type": "category", "autorange": "reversed"})
    part.blocks += [
        Text("Only columns with at least one empty value are listed; all other columns are complete. "
             "Delivery dates are empty for orders that were not delivered."),
        ChartBlock(chart(fig, "fig-data-missing", "Share of missing values per column",
                         height=max(260, 22 * len(missing) + 80))),
        Table(["table", "column", "missing", "rows", "share"],
              [[t, c, fmt_int(m), fmt_int(n), fmt_pct(m / n, 2)] for t, c, m, n in missing],
              numeric=frozenset({"missing", "rows", "share"})),
    ]
    return part


def orders_part(ds: Dataset) -> Part:
    """Orders per week (delivered and not) and the count per order status."""
    weeks = _rows(ds, f"""
        SELECT strftime(date_trunc('week', order_purchase_timestamp), '%Y-%m-%d') AS week,
               count(*) FILTER (WHERE {_DELIVERED}) AS delivered,
               count(*) FILTER (WHERE NOT {_DELIVERED} OR order_status IS NULL) AS other
        FROM orders WHERE order_purchase_timestamp IS NOT NULL
        GROUP BY 1 ORDER BY 1
    """)
    x = [w for w, _, _ in weeks]
    log = ds.kind == "log"
    weekly = go.Figure([
        go.Bar(x=x, y=[d for _, d, _ in weeks], name="orders" if log else "delivered"),
        *([] if log else [go.Bar(x=x, y=[o for _, _, o in weeks], name="other status")]),
    ])
    weekly.update_layout(barmode="stack", bargap=0.1, xaxis={"type": "date", "title": "week of purchase"},
                         yaxis={"title": "orders"}, legend={"orientation": "h", "y": 1.1})
    weekly_block = ChartBlock(chart(weekly, "fig-data-orders-week", "Orders per week",
                                    "Weeks start on Monday; the first and last weeks may be partial."))
    statuses = _rows(ds, """
        SELECT coalesce(order_status, '(missing)'), count(*) FROM orders GROUP BY 1 ORDER BY 2 DESC, 1
    """)
    if log:
        return Part("data-orders", "Orders over time", [weekly_block])
    if len(statuses) < 2:
        only = statuses[0][0] if statuses else "–"
        return Part("data-orders", "Orders over time", [weekly_block, Text(f"Every order has the status {only}.")])
    status = go.Figure(go.Bar(x=[plot_text(s) for s, _ in statuses], y=[n for _, n in statuses],
                              text=[fmt_int(n) for _, n in statuses], textposition="outside",
                              cliponaxis=False))
    status.update_layout(yaxis={"title": "orders", "type": "log"})
    _category_axis(status)
    return Part("data-orders", "Orders over time and order status", [
        weekly_block,
        ChartBlock(chart(status, "fig-data-order-status", "Orders per status",
                         "Logarithmic scale: only delivered orders count as purchases by default.")),
    ])


def delivery_part(ds: Dataset) -> Part | None:
    """Days from purchase to delivery and days late against the estimate, for delivered orders."""
    if not _count(ds, "SELECT count(order_delivered_customer_date) FROM orders"):
        return None
    base = f"""
        WITH delivered AS (
            SELECT date_diff('second', order_purchase_timestamp, order_delivered_customer_date) / 86400.0
                       AS delivery_days,
                   date_diff('day', order_estimated_delivery_date::DATE,
                             order_delivered_customer_date::DATE) AS late_days
            FROM orders
            WHERE {_DELIVERED} AND order_delivered_customer_date IS NOT NULL
              AND order_purchase_timestamp IS NOT NULL
        )
    """
    median, p90, late_share, orders = ds.con.execute(base + """
        SELECT median(delivery_days), quantile_cont(delivery_days, 0.9),
               avg((late_days > 0)::INT) FILTER (WHERE late_days IS NOT NULL), count(*)
        FROM delivered
    """).fetchall()[0]
    delivery = _rows(ds, base + f"""
        SELECT least(greatest(floor(delivery_days), 0), {DELIVERY_MAX_DAYS})::INT AS d, count(*)
        FROM delivered GROUP BY 1 ORDER BY 1
    """)
    lateness = _rows(ds, base + f"""
        SELECT least(greatest(late_days, -{LATENESS_RANGE_DAYS}), {LATENESS_RANGE_DAYS})::INT AS d, count(*)
        FROM delivered WHERE late_days IS NOT NULL GROUP BY 1 ORDER BY 1
    """)
    delivery_fig = go.Figure(go.Bar(x=[d for d, _ in delivery], y=[n for _, n in delivery]))
    axis = f"days from purchase to delivery ({DELIVERY_MAX_DAYS} = {DELIVERY_MAX_DAYS} or more)"
    delivery_fig.update_layout(bargap=0.05, xaxis={"title": axis},
                               yaxis={"title": "orders"})
    late_fig = go.Figure(go.Bar(
        x=[d for d, _ in lateness], y=[n for _, n in lateness],
        marker={"color": ["#d62728" if d > 0 else "#2ca02c" for d, _ in lateness]},
    ))
    late_fig.update_layout(bargap=0.05, xaxis={"title": "days delivered after the estimated date (negative = early)"},
                           yaxis={"title": "orders"})
    return Part("data-delivery", "Delivery time and lateness", [
        Facts([
            ("delivered orders with a date", fmt_int(orders)),
            ("median delivery (days)", fmt_num(median)),
            ("90th percentile (days)", fmt_num(p90)),
            ("delivered late", fmt_pct(late_share)),
        ]),
        ChartBlock(chart(delivery_fig, "fig-data-delivery-days", "Delivery time")),
        ChartBlock(chart(late_fig, "fig-data-lateness", "Delivery against the estimated date",
                         f"Clipped at ±{LATENESS_RANGE_DAYS} days; red bars are late deliveries.")),
    ])


def reviews_part(ds: Dataset) -> Part | None:
    """Reviews per score, the mean score and the share with a written comment."""
    if not ds.rows.get("reviews"):
        return None
    mean, commented, total = ds.con.execute("""
        SELECT avg(review_score), avg((review_comment_message IS NOT NULL)::INT), count(*) FROM reviews
    """).fetchall()[0]
    scores = _rows(ds, """
        SELECT coalesce(review_score::VARCHAR, '(missing)'), count(*) FROM reviews GROUP BY 1 ORDER BY 1
    """)
    fig = go.Figure(go.Bar(x=[plot_text(s) for s, _ in scores], y=[n for _, n in scores],
                           marker={"color": "#636efa"}))
    fig.update_layout(xaxis={"title": "review score"}, yaxis={"title": "reviews"})
    _category_axis(fig)
    return Part("data-reviews", "Review scores", [
        Facts([("reviews", fmt_int(total)), ("mean score", fmt_num(mean, 2)),
               ("with a written comment", fmt_pct(commented))]),
        ChartBlock(chart(fig, "fig-data-review-scores", "Reviews per score")),
    ])


def payments_part(ds: Dataset, money: Money = Money()) -> Part | None:
    """Payments per type (count and value) and payments per number of installments."""
    if not _count(ds, "SELECT count(payment_type) FROM payments"):
        return None
    types = _rows(ds, """
        SELECT coalesce(payment_type, '(missing)'), count(*), sum(payment_value)
        FROM payments GROUP BY 1 ORDER BY 3 DESC NULLS LAST, 1
    """)
    labels = [plot_text(t) for t, _, _ in types]
    type_fig = make_subplots(rows=1, cols=2, subplot_titles=("payments", money.unit("value paid")))
    type_fig.add_trace(go.Bar(x=labels, y=[n for _, n, _ in types], showlegend=False), row=1, col=1)
    type_fig.add_trace(go.Bar(x=labels, y=[v for _, _, v in types], showlegend=False), row=1, col=2)
    type_fig.update_xaxes(type="category")
    installments = _rows(ds, f"""
        SELECT least(payment_installments, {MAX_INSTALLMENTS}) AS n, count(*)
        FROM payments WHERE payment_installments IS NOT NULL GROUP BY 1 ORDER BY 1
    """)
    inst_fig = go.Figure(go.Bar(x=[n for n, _ in installments], y=[c for _, c in installments]))
    inst_fig.update_layout(xaxis={"title": f"installments ({MAX_INSTALLMENTS} = {MAX_INSTALLMENTS} or more)",
                                  "dtick": 1},
                           yaxis={"title": "payments"})
    return Part("data-payments", "Payment types and installments", [
        ChartBlock(chart(type_fig, "fig-data-payment-types", "Payments per type",
                         "An order paid partly with vouchers has one payment row per voucher.")),
        ChartBlock(chart(inst_fig, "fig-data-installments", "Payments per number of installments")),
    ])


def categories_part(ds: Dataset, money: Money = Money()) -> Part | None:
    """The product categories with the most item revenue (English names where translated)."""
    if not ds.rows.get("products"):
        return None
    cats = _rows(ds, f"""
        SELECT coalesce(t.product_category_name_english, p.product_category_name, 'unknown') AS category,
               count(*) AS items, sum(i.price) AS revenue
        FROM order_items i
        LEFT JOIN products p USING (product_id)
        LEFT JOIN category_translation t ON t.product_category_name = p.product_category_name
        GROUP BY 1 ORDER BY revenue DESC NULLS LAST, category LIMIT {TOP_CATEGORIES}
    """)
    fig = go.Figure(go.Bar(
        x=[r for _, _, r in cats], y=[plot_text(c) for c, _, _ in cats], orientation="h",
        customdata=[n for _, n, _ in cats],
        hovertemplate="%{y}: %{x:,.0f} from %{customdata:,} items<extra></extra>",
    ))
    fig.update_layout(xaxis={"title": money.unit("item revenue (price, without freight)")},
                      yaxis={"type": "category", "autorange": "reversed"})
    return Part("data-categories", "Top categories", [
        ChartBlock(chart(fig, "fig-data-categories", f"Top {TOP_CATEGORIES} categories by item revenue",
                         "Categories without an English translation keep their Portuguese name.",
                         height=max(300, 24 * len(cats) + 80))),
    ])


def states_part(ds: Dataset, money: Money = Money()) -> Part | None:
    """Customers (people) and revenue of delivered orders per state."""
    if not _count(ds, "SELECT count(customer_state) FROM customers"):
        return None
    states = _rows(ds, f"""
        WITH people AS (
            SELECT coalesce(customer_state, '(missing)') AS state,
                   count(DISTINCT customer_unique_id) AS customers
            FROM customers GROUP BY 1
        ),
        revenue AS (
            SELECT coalesce(c.customer_state, '(missing)') AS state, sum(p.payment_value) AS revenue
            FROM orders o JOIN customers c USING (customer_id) JOIN payments p USING (order_id)
            WHERE {_DELIVERED} GROUP BY 1
        )
        SELECT state, customers, coalesce(revenue, 0) FROM people LEFT JOIN revenue USING (state)
        ORDER BY customers DESC, state
    """)
    labels = [plot_text(s) for s, _, _ in states]
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("customers (people)", money.unit("payments of delivered orders")))
    fig.add_trace(go.Bar(x=[c for _, c, _ in states], y=labels, orientation="h", showlegend=False), 1, 1)
    fig.add_trace(go.Bar(x=[r for _, _, r in states], y=labels, orientation="h", showlegend=False), 1, 2)
    fig.update_yaxes(type="category", autorange="reversed")
    return Part("data-states", "Customers and revenue per state", [
        ChartBlock(chart(fig, "fig-data-states", "Customers and revenue per state",
                         "A person who ordered from two states is counted in both.",
                         height=max(320, 20 * len(states) + 90))),
        top_cities(ds),
    ])


def top_cities(ds: Dataset) -> Table:
    """The cities with the most customers (people), with their state."""
    cities = _rows(ds, f"""
        SELECT coalesce(customer_city, '(missing)') AS city, coalesce(customer_state, '(missing)') AS state,
               count(DISTINCT customer_unique_id) AS customers
        FROM customers GROUP BY 1, 2 ORDER BY customers DESC, city, state LIMIT {TOP_CITIES}
    """)
    return Table(["city", "state", "customers"], [[c, s, fmt_int(n)] for c, s, n in cities],
                 caption=f"The {TOP_CITIES} cities with the most customers", numeric=frozenset({"customers"}))


def data_section(ds: Dataset, money: Money = Money()) -> Section:
    """The Data section: what was loaded, its problems and its shape (parts without data left out)."""
    source = "the transaction log" if ds.kind == "log" else "the Olist export"
    parts = [
        Part("data-loaded", "What was loaded", [headline_facts(ds, money), loaded_tables(ds)]),
        Part("data-validation", "Validation warnings", [validation_block(ds)]),
        missing_part(ds),
        orders_part(ds),
        delivery_part(ds),
        reviews_part(ds),
        payments_part(ds, money),
        categories_part(ds, money),
        states_part(ds, money),
    ]
    return Section(
        id="data",
        title="Data",
        intro=f"What was loaded from {source} {ds.root.name or ds.root}, and what the orders look like.",
        parts=[p for p in parts if p is not None],
    )
