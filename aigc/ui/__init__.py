"""The Streamlit page: thin widgets over :mod:`aigc`. Only this subpackage imports streamlit."""
