"""The bench's measures of the page itself (interaction, load): they drive Streamlit, so they
live with the UI code; `python -m aigc.bench` imports them only when they run."""
