"""A minimal Django site behind Kirin (no database, no admin)."""
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

# From .env (Kirin's envFiles reach the services it runs).
SECRET_KEY = os.environ['DJANGO_SECRET_KEY']
DEBUG = os.environ.get('DJANGO_DEBUG') == '1'
ALLOWED_HOSTS = ['shop.example.test']

INSTALLED_APPS = ['django.contrib.staticfiles']
MIDDLEWARE = [
    'django.middleware.security.SecurityMiddleware',
    'django.middleware.common.CommonMiddleware',
    'django.middleware.clickjacking.XFrameOptionsMiddleware',
]
ROOT_URLCONF = 'mysite.urls'
WSGI_APPLICATION = 'mysite.wsgi.application'
DATABASES = {}
USE_TZ = True

# `python3 manage.py collectstatic` fills STATIC_ROOT; Kirin serves it at /static/.
STATIC_URL = '/static/'
STATIC_ROOT = BASE_DIR / 'staticfiles'

# Kirin states the scheme and host it saw in X-Forwarded-Proto / X-Forwarded-Host
# (and drops the client's own copies), so Django can believe them.
SECURE_PROXY_SSL_HEADER = ('HTTP_X_FORWARDED_PROTO', 'https')
USE_X_FORWARDED_HOST = True
