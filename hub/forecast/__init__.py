"""Demand forecast per store × SKU (issue 14): the model (`model.py`, numpy over all series at
once), the calendar it reads (`calendar.py`: CN public holidays, promotions), the backtest
(`backtest.py`), and the hub's side (`service.py`: history from `stock_daily_demand`)."""
