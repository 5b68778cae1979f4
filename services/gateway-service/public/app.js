/* global window, document, location, LightweightCharts */
// The live page: a candlestick chart, the order book's depth, the last trades (and a perpetual's funding
// and liquidations) of one market — a (source, symbol): BTC-USDT on binance is spot, on binance-usdm the
// perpetual — and the connectors' status, from the gateway's REST history and its own WebSocket
// (/v1/stream). Plain browser JavaScript, no build step.
"use strict";

(function main() {
  const INTERVAL_SECONDS = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
  const MAX_TRADES = 50;
  const BOOK_LEVELS = 10; // per side in the depth view
  const MAX_LIQUIDATIONS = 20;
  const MARKET_TYPES = ["ohlcv", "trade", "order_book", "derivative_ticker", "liquidation"];
  const HISTORY_BARS = 300;
  // No market event for this long (and at least 3 intervals): the feed is shown as stopped.
  const STALE_MS = 2 * 60 * 1000;
  const params = new URLSearchParams(location.search);

  const el = {
    source: document.getElementById("source"),
    symbol: document.getElementById("symbol"),
    interval: document.getElementById("interval"),
    connection: document.getElementById("connection"),
    feed: document.getElementById("feed"),
    keyForm: document.getElementById("key-form"),
    keyInput: document.getElementById("api-key"),
    chart: document.getElementById("chart"),
    chartSymbol: document.getElementById("chart-symbol"),
    chartSource: document.getElementById("chart-source"),
    book: document.getElementById("book"),
    bookAsks: document.querySelector("#book tbody.asks"),
    bookBids: document.querySelector("#book tbody.bids"),
    bookInfo: document.getElementById("book-info"),
    spread: document.getElementById("spread"),
    derivatives: document.getElementById("derivatives"),
    liquidationsPanel: document.getElementById("liquidations-panel"),
    liquidations: document.querySelector("#liquidations tbody"),
    lastPrice: document.getElementById("last-price"),
    chartInfo: document.getElementById("chart-info"),
    trades: document.querySelector("#trades tbody"),
    connectors: document.getElementById("connectors"),
  };

  const state = {
    apiKey: params.get("api_key") || localStorage.getItem("market-scraper.api-key") || "",
    source: params.get("source") || "",
    symbol: params.get("symbol") || "",
    interval: params.get("interval") || "1m",
    bars: new Map(), // bar time (s) -> bar
    lastBarTime: 0,
    updates: 0,
    connectors: new Map(),
    markets: [], // /v1/markets rows: { source, symbol, kind, source_display_name, last_timestamp, … }
    bookSequence: null, // the exchange sequence of the book shown (a stale one never replaces it)
    bookTime: 0,
    newestMs: 0, // timestamp of the newest event of the symbol (stored or live)
    liveAt: 0, // when (page clock) the last market event of the symbol arrived live
    socket: null,
    reconnectDelay: 500,
    generation: 0,
  };

  const chart = LightweightCharts.createChart(el.chart, {
    autoSize: true,
    layout: { background: { color: "#171a21" }, textColor: "#d1d4dc" },
    grid: { vertLines: { color: "#222631" }, horzLines: { color: "#222631" } },
    timeScale: { timeVisible: true, secondsVisible: false },
    rightPriceScale: { borderColor: "#262a33" },
  });
  const series = chart.addSeries(LightweightCharts.CandlestickSeries, {
    upColor: "#26a69a",
    downColor: "#ef5350",
    wickUpColor: "#26a69a",
    wickDownColor: "#ef5350",
    borderVisible: false,
  });

  function intervalSeconds(interval) {
    const match = /^(\d+)([smhdw])$/.exec(interval);
    return match ? Number(match[1]) * INTERVAL_SECONDS[match[2]] : 60;
  }

  function setConnection(text, stateName) {
    el.connection.textContent = text;
    el.connection.dataset.state = stateName;
  }

  async function api(path) {
    const headers = state.apiKey ? { "x-api-key": state.apiKey } : {};
    const response = await fetch(path, { headers });
    if (response.status === 401 || response.status === 403) {
      el.keyForm.hidden = false;
      throw new Error("an API key is needed");
    }
    const body = await response.json();
    if (!response.ok) throw new Error(body && body.error ? body.error.message : response.statusText);
    return body;
  }

  function formatTime(ms) {
    return Number.isFinite(ms) ? `${new Date(ms).toISOString().slice(0, 16).replace("T", " ")} UTC` : "?";
  }

  // The newest stored event of the symbol, whatever its date: a replayed capture is in the past.
  function newestStored(source, symbol) {
    let newest = 0;
    for (const market of state.markets) {
      if (market.symbol === symbol && (!source || market.source === source))
        newest = Math.max(newest, Date.parse(market.last_timestamp) || 0);
    }
    return newest;
  }

  // Is this live event of the market shown (its source and symbol)?
  function ofMarket(event) {
    return event.payload.symbol === state.symbol && (!state.source || event.source === state.source);
  }

  // `?source=` for the REST history, when a source is chosen.
  function sourceQuery(query) {
    if (state.source) query.set("source", state.source);
    return query;
  }

  function replayConnector() {
    for (const c of state.connectors.values()) if (/replay/i.test(c.message || "")) return c;
    return null;
  }

  // live, replay (playing or finished), stopped (nothing new for a while) or empty, with the newest
  // event's time whenever that is not "now".
  function showFeed() {
    const replay = replayConnector();
    const quietFor = Date.now() - Math.max(state.liveAt, state.newestMs);
    const staleAfter = Math.max(STALE_MS, 3 * intervalSeconds(state.interval) * 1000);
    let name;
    let text;
    if (replay) {
      const finished = replay.status === "disconnected" || replay.status === "stopped";
      name = finished ? "replay-finished" : "replay";
      text = finished ? "replay finished" : "replay";
    } else if (state.newestMs === 0) {
      name = "empty";
      text = "no data yet";
    } else if (quietFor > staleAfter) {
      name = "stopped";
      text = "feed stopped";
    } else {
      name = "live";
      text = "live feed";
    }
    if (name !== "live" && state.newestMs > 0) text += ` · newest event ${formatTime(state.newestMs)}`;
    el.feed.textContent = text;
    el.feed.dataset.state = name;
  }

  function sawLive(event) {
    state.liveAt = Date.now();
    state.newestMs = Math.max(state.newestMs, Date.parse(event.payload.timestamp || event.timestamp) || 0);
    showFeed();
  }

  function formatPrice(value) {
    return Number(value).toLocaleString(undefined, { maximumFractionDigits: 8 });
  }

  function showChartState() {
    el.chart.dataset.bars = String(state.bars.size);
    el.chart.dataset.updates = String(state.updates);
    const last = state.bars.get(state.lastBarTime);
    if (last) {
      el.chart.dataset.lastClose = String(last.close);
      el.lastPrice.textContent = formatPrice(last.close);
    }
    el.chartInfo.textContent = `${state.interval} · ${state.bars.size} candles`;
  }

  function applyBar(bar) {
    if (bar.time < state.lastBarTime) {
      // An older candle (late correction): redraw everything rather than break update()'s order rule.
      state.bars.set(bar.time, bar);
      series.setData([...state.bars.values()].sort((a, b) => a.time - b.time));
    } else {
      state.bars.set(bar.time, bar);
      state.lastBarTime = bar.time;
      series.update(bar);
    }
    state.updates++;
    showChartState();
  }

  function candleFromEvent(event) {
    const p = event.payload;
    return {
      time: Math.floor(Date.parse(p.timestamp) / 1000),
      open: p.open,
      high: p.high,
      low: p.low,
      close: p.close,
    };
  }

  function onCandle(event) {
    const p = event.payload;
    if (!ofMarket(event) || (p.interval !== undefined && p.interval !== state.interval)) return;
    sawLive(event);
    applyBar(candleFromEvent(event));
  }

  // Trades move the forming candle between the processor's candle updates.
  function onTrade(event) {
    const p = event.payload;
    if (!ofMarket(event)) return;
    sawLive(event);
    addTradeRow(p, true);
    const step = intervalSeconds(state.interval);
    const time = Math.floor(Date.parse(p.timestamp) / 1000 / step) * step;
    if (time < state.lastBarTime) return;
    const bar = state.bars.get(time);
    applyBar(
      bar
        ? { ...bar, high: Math.max(bar.high, p.price), low: Math.min(bar.low, p.price), close: p.price }
        : { time, open: p.price, high: p.price, low: p.price, close: p.price },
    );
  }

  function addTradeRow(p, atTop) {
    const row = document.createElement("tr");
    row.className = p.side || "";
    const cells = [
      new Date(p.timestamp).toISOString().slice(11, 19),
      p.side || "",
      formatPrice(p.price),
      formatPrice(p.volume),
    ];
    cells.forEach((text, i) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (i === 1) cell.className = "side";
      if (i >= 2) cell.className = "num";
      row.appendChild(cell);
    });
    if (atTop) el.trades.prepend(row);
    else el.trades.appendChild(row);
    while (el.trades.rows.length > MAX_TRADES) el.trades.deleteRow(-1);
  }

  // A book's side as shown: [price, size, cumulative size] of its best BOOK_LEVELS levels, best first;
  // a book without depth shows its top of book.
  function bookSide(levels, price, size) {
    const side = Array.isArray(levels) && levels.length > 0 ? levels : [[price, size]];
    let total = 0;
    return side.slice(0, BOOK_LEVELS).map(([levelPrice, levelSize]) => {
      total = Math.round((total + levelSize) * 1e8) / 1e8;
      return [levelPrice, levelSize, total];
    });
  }

  function bookRow(level, deepest) {
    const row = document.createElement("tr");
    row.dataset.price = String(level[0]);
    row.dataset.cumulative = String(level[2]);
    row.style.setProperty("--depth", `${deepest > 0 ? Math.round((level[2] / deepest) * 100) : 0}%`);
    for (const value of level) {
      const cell = document.createElement("td");
      cell.className = "num";
      cell.textContent = formatPrice(value);
      row.appendChild(cell);
    }
    return row;
  }

  function showBook(event) {
    const p = event.payload;
    const time = Date.parse(p.timestamp || event.timestamp) || 0;
    // Conflation and two copies (market, processed) can bring an older book after a newer one.
    const sequence = Number.isInteger(p.sequence) ? p.sequence : null;
    if (
      sequence !== null && state.bookSequence !== null ? sequence < state.bookSequence : time < state.bookTime
    )
      return;
    state.bookSequence = sequence;
    state.bookTime = time;
    const bids = bookSide(p.bids, p.bid, p.bid_volume);
    const asks = bookSide(p.asks, p.ask, p.ask_volume);
    const deepest = Math.max(
      bids.length ? bids[bids.length - 1][2] : 0,
      asks.length ? asks[asks.length - 1][2] : 0,
    );
    // Asks above the spread, best (lowest) nearest to it; bids below, best first.
    el.bookAsks.replaceChildren(...asks.map((level) => bookRow(level, deepest)).reverse());
    el.bookBids.replaceChildren(...bids.map((level) => bookRow(level, deepest)));
    el.book.dataset.bids = String(bids.length);
    el.book.dataset.asks = String(asks.length);
    el.book.dataset.sequence = sequence === null ? "" : String(sequence);
    el.spread.textContent = `spread ${formatPrice(Math.round((p.ask - p.bid) * 1e8) / 1e8)}`;
    el.bookInfo.textContent = `${new Date(time).toISOString().slice(11, 23)}${sequence === null ? "" : ` · seq ${sequence}`}`;
  }

  function clearBook(text) {
    state.bookSequence = null;
    state.bookTime = 0;
    el.bookAsks.replaceChildren();
    el.bookBids.replaceChildren();
    el.book.dataset.bids = "0";
    el.book.dataset.asks = "0";
    el.book.dataset.sequence = "";
    el.spread.textContent = "—";
    el.bookInfo.textContent = text;
  }

  function onBook(event) {
    if (!ofMarket(event)) return;
    sawLive(event);
    showBook(event);
  }

  const DERIVATIVE_FIELDS = {
    "funding-rate": (p) =>
      typeof p.funding_rate === "number" ? `${(p.funding_rate * 100).toFixed(4)}%` : undefined,
    "next-funding": (p) => (p.next_funding_time ? formatTime(Date.parse(p.next_funding_time)) : undefined),
    "mark-price": (p) => (typeof p.mark_price === "number" ? formatPrice(p.mark_price) : undefined),
    "index-price": (p) => (typeof p.index_price === "number" ? formatPrice(p.index_price) : undefined),
    "open-interest": (p) => (typeof p.open_interest === "number" ? formatPrice(p.open_interest) : undefined),
  };

  // Funding, mark, index and open interest of a perpetual; an absent field keeps its last value.
  function showDerivatives(p) {
    for (const [id, format] of Object.entries(DERIVATIVE_FIELDS)) {
      const text = format(p);
      if (text !== undefined) document.getElementById(id).textContent = text;
    }
    el.derivatives.hidden = false;
  }

  function onDerivativeTicker(event) {
    if (!ofMarket(event)) return;
    sawLive(event);
    showDerivatives(event.payload);
  }

  function addLiquidationRow(p, atTop) {
    const row = document.createElement("tr");
    row.className = p.side || "";
    [
      new Date(p.timestamp).toISOString().slice(11, 19),
      p.side || "",
      formatPrice(p.price),
      formatPrice(p.volume),
    ].forEach((text, i) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (i === 1) cell.className = "side";
      if (i >= 2) cell.className = "num";
      row.appendChild(cell);
    });
    if (atTop) el.liquidations.prepend(row);
    else el.liquidations.appendChild(row);
    while (el.liquidations.rows.length > MAX_LIQUIDATIONS) el.liquidations.deleteRow(-1);
    el.liquidationsPanel.hidden = false;
  }

  function onLiquidation(event) {
    if (!ofMarket(event)) return;
    sawLive(event);
    addLiquidationRow(event.payload, true);
  }

  function onConnectorStatus(entry) {
    const key = `${entry.source}/${entry.connector}/${entry.channel || ""}`;
    state.connectors.set(key, entry);
    el.connectors.replaceChildren(
      ...[...state.connectors.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([, c]) => {
          const item = document.createElement("li");
          const name = document.createElement("span");
          name.textContent = c.channel ? `${c.connector} · ${c.channel}` : c.connector;
          const status = document.createElement("span");
          status.className = `state-${c.status}`;
          status.textContent = c.status;
          status.title = c.message || c.timestamp;
          item.append(name, status);
          if (c.last_error) {
            // Why it is not connected (e.g. the exchange refused the symbols), not just its state.
            const error = document.createElement("span");
            error.className = "last-error";
            error.textContent = c.last_error_at
              ? `${c.last_error} (${formatTime(Date.parse(c.last_error_at))})`
              : c.last_error;
            item.append(error);
          }
          return item;
        }),
    );
    showFeed();
  }

  function statusEntry(event) {
    const p = event.payload;
    return {
      source: event.source,
      connector: p.connector,
      status: p.status,
      channel: p.channel || null,
      message: p.message || null,
      last_error: typeof p.last_error === "string" ? p.last_error : null,
      last_error_at: typeof p.last_error_at === "string" ? p.last_error_at : null,
      timestamp: event.timestamp,
    };
  }

  async function loadHistory(generation) {
    const step = intervalSeconds(state.interval);
    // The bars before the newest stored event of the market (now, for a live one; the capture's time
    // after a replay), not simply before now.
    state.newestMs = Math.max(state.newestMs, newestStored(state.source, state.symbol));
    const anchor = state.newestMs || Date.now();
    const start = new Date((Math.floor(anchor / 1000 / step) - HISTORY_BARS) * step * 1000).toISOString();
    const base = `/v1/markets/${encodeURIComponent(state.symbol)}`;
    const bars = [];
    let cursor = null;
    for (let page = 0; page < 5; page++) {
      const query = sourceQuery(new URLSearchParams({ interval: state.interval, start, limit: "1000" }));
      if (cursor) query.set("cursor", cursor);
      const body = await api(`${base}/ohlcv?${query}`);
      for (const event of body.data) bars.push(candleFromEvent(event));
      cursor = body.next_cursor;
      if (!cursor) break;
    }
    if (generation !== state.generation) return;
    for (const bar of bars) state.bars.set(bar.time, bar);
    const sorted = [...state.bars.values()].sort((a, b) => a.time - b.time);
    series.setData(sorted);
    chart.timeScale().fitContent();
    state.lastBarTime = sorted.length ? sorted[sorted.length - 1].time : 0;
    showChartState();

    const trades = await api(
      `${base}/trades?${sourceQuery(new URLSearchParams({ order: "desc", limit: String(MAX_TRADES) }))}`,
    );
    if (generation !== state.generation) return;
    el.trades.replaceChildren();
    for (const event of trades.data) addTradeRow(event.payload, false);
    showFeed();
    await loadBookAndDerivatives(generation, base);
  }

  // The newest stored book, funding state and liquidations of the market (none: nothing is shown).
  async function loadBookAndDerivatives(generation, base) {
    const events = (type, limit) =>
      api(
        `/v1/events?${sourceQuery(new URLSearchParams({ event_type: type, symbol: state.symbol, order: "desc", limit: String(limit) }))}`,
      );
    // Only what the market has stored (/v1/markets' event_types): no 404 for a market without books.
    const market = state.markets.find((m) => m.source === state.source && m.symbol === state.symbol);
    const has = (type) => Boolean(market && market.event_types.includes(type));
    const none = { data: [] };
    const [book, derivative, liquidations] = await Promise.all([
      has("order_book") ? api(`${base}/orderbook?${sourceQuery(new URLSearchParams())}`) : null,
      has("derivative_ticker") ? events("derivative_ticker", 1) : none,
      has("liquidation") ? events("liquidation", MAX_LIQUIDATIONS) : none,
    ]);
    if (generation !== state.generation) return;
    if (book) showBook(book.data);
    else if (state.bookTime === 0) clearBook("no book yet");
    if (derivative.data.length > 0) showDerivatives(derivative.data[0].payload);
    for (const event of liquidations.data) addLiquidationRow(event.payload, false);
  }

  async function loadConnectors() {
    const body = await api("/v1/connectors");
    for (const entry of body.data) onConnectorStatus(entry);
  }

  function sourceLabel(source) {
    const market = state.markets.find((m) => m.source === source);
    return (market && market.source_display_name) || source;
  }

  function marketLabel() {
    const market = state.markets.find((m) => m.source === state.source && m.symbol === state.symbol);
    const kind = market && market.kind ? ` · ${market.kind}` : "";
    return state.source ? `${sourceLabel(state.source)}${kind}` : "";
  }

  // The source picker lists every source with markets; the symbol picker the chosen source's symbols.
  function showPickers() {
    const sources = [...new Set(state.markets.map((m) => m.source))].sort();
    if (state.source && !sources.includes(state.source)) sources.unshift(state.source);
    el.source.replaceChildren(
      ...sources.map((source) => {
        const option = document.createElement("option");
        option.value = source;
        option.textContent = sourceLabel(source);
        return option;
      }),
    );
    el.source.value = state.source;
    const symbols = [
      ...new Set(state.markets.filter((m) => m.source === state.source).map((m) => m.symbol)),
    ].sort();
    if (!symbols.includes(state.symbol)) symbols.unshift(state.symbol);
    el.symbol.replaceChildren(
      ...symbols.map((s) => {
        const option = document.createElement("option");
        option.value = s;
        option.textContent = s;
        return option;
      }),
    );
    el.symbol.value = state.symbol;
  }

  async function loadSymbols() {
    const body = await api("/v1/markets");
    state.markets = body.data;
    // No source asked for: the one whose market of the symbol is newest (or the first market's).
    if (!state.source) {
      const candidates = state.markets
        .filter((m) => !state.symbol || m.symbol === state.symbol)
        .sort((a, b) => Date.parse(b.last_timestamp) - Date.parse(a.last_timestamp));
      if (candidates.length > 0) state.source = candidates[0].source;
    }
    if (!state.symbol) {
      const first = state.markets.find((m) => m.source === state.source);
      state.symbol = first ? first.symbol : "BTC-USD";
    }
    showPickers();
  }

  function marketSubscription() {
    return {
      action: "subscribe",
      id: "market",
      event_types: MARKET_TYPES,
      symbols: [state.symbol],
      ...(state.source ? { sources: [state.source] } : {}),
    };
  }

  function subscribe(socket) {
    socket.send(JSON.stringify(marketSubscription()));
    socket.send(JSON.stringify({ action: "subscribe", id: "status", event_types: ["connector_status"] }));
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = state.apiKey ? `?api_key=${encodeURIComponent(state.apiKey)}` : "";
    const socket = new WebSocket(`${scheme}//${location.host}/v1/stream${query}`);
    state.socket = socket;
    let pinger = null;
    socket.addEventListener("open", () => {
      state.reconnectDelay = 500;
      setConnection("live", "open");
      subscribe(socket);
      pinger = window.setInterval(() => socket.send(JSON.stringify({ action: "ping" })), 20000);
    });
    socket.addEventListener("message", (message) => {
      const frame = JSON.parse(message.data);
      if (frame.type === "event") {
        const event = frame.event;
        if (event.event_type === "ohlcv") onCandle(event);
        else if (event.event_type === "trade") onTrade(event);
        else if (event.event_type === "order_book") onBook(event);
        else if (event.event_type === "derivative_ticker") onDerivativeTicker(event);
        else if (event.event_type === "liquidation") onLiquidation(event);
        else if (event.event_type === "connector_status") onConnectorStatus(statusEntry(event));
      } else if (frame.type === "error") {
        setConnection(`error: ${frame.error.message}`, "closed");
      }
    });
    socket.addEventListener("close", (closed) => {
      window.clearInterval(pinger);
      if (state.socket !== socket) return;
      setConnection(`reconnecting${closed.reason ? ` (${closed.reason.split(":")[0]})` : ""}…`, "closed");
      window.setTimeout(connect, state.reconnectDelay);
      state.reconnectDelay = Math.min(state.reconnectDelay * 2, 15000);
    });
  }

  async function selectSymbol() {
    state.generation++;
    state.bars.clear();
    state.lastBarTime = 0;
    state.newestMs = 0;
    state.liveAt = 0;
    series.setData([]);
    el.chartSymbol.textContent = state.symbol;
    el.chartSource.textContent = marketLabel();
    el.lastPrice.textContent = "—";
    clearBook("loading…");
    el.derivatives.hidden = true;
    for (const id of Object.keys(DERIVATIVE_FIELDS)) document.getElementById(id).textContent = "—";
    el.liquidations.replaceChildren();
    el.liquidationsPanel.hidden = true;
    el.trades.replaceChildren();
    const url = new URL(location.href);
    if (state.source) url.searchParams.set("source", state.source);
    url.searchParams.set("symbol", state.symbol);
    url.searchParams.set("interval", state.interval);
    url.searchParams.delete("api_key");
    window.history.replaceState(null, "", url);
    if (state.socket && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify({ action: "unsubscribe", id: "market" }));
      state.socket.send(JSON.stringify(marketSubscription()));
    }
    await loadHistory(state.generation);
  }

  async function start() {
    el.interval.value = state.interval;
    try {
      await loadSymbols();
      el.chartSymbol.textContent = state.symbol;
      connect();
      await Promise.all([selectSymbol(), loadConnectors()]);
      document.body.dataset.ready = "true";
    } catch (error) {
      setConnection(String(error.message || error), "closed");
    }
  }

  el.source.addEventListener("change", () => {
    state.source = el.source.value;
    // Keep the symbol when the new source lists it (BTC-USDT spot → perpetual), else its first market.
    const symbols = state.markets.filter((m) => m.source === state.source).map((m) => m.symbol);
    if (!symbols.includes(state.symbol) && symbols.length > 0) state.symbol = [...symbols].sort()[0];
    showPickers();
    void selectSymbol();
  });
  el.symbol.addEventListener("change", () => {
    state.symbol = el.symbol.value;
    void selectSymbol();
  });
  el.interval.addEventListener("change", () => {
    state.interval = el.interval.value;
    void selectSymbol();
  });
  el.keyForm.addEventListener("submit", (submitted) => {
    submitted.preventDefault();
    state.apiKey = el.keyInput.value.trim();
    localStorage.setItem("market-scraper.api-key", state.apiKey);
    el.keyForm.hidden = true;
    if (state.socket) state.socket.close();
    state.socket = null;
    void start();
  });

  window.setInterval(showFeed, 5000);
  void start();
})();
