"""Folium rendering: data in, ``folium.Map`` out. Never touches the database."""
