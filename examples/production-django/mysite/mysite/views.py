from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.views.decorators.http import require_POST


def shop(request):
    return HttpResponse(
        '<!doctype html><title>Shop</title><link rel="stylesheet" href="/static/shop.css">'
        '<form method="post" action="/order/">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{get_token(request)}">'
        '<button name="item" value="tea">Order tea</button></form>\n'
    )


@require_POST
def order(request):
    return HttpResponse(f"ordered {request.POST.get('item', 'nothing')}\n", content_type='text/plain')
